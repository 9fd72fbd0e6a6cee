use super::*;
use crate::EntityState;
use crate::entity::dequantize;
use crate::schema::{entity_from_row, world_of};
use proptest::prelude::*;
use tickwire_proto::codec;
use tickwire_proto::msg::{ServerMsg, StateFrame, WallRect};
use tickwire_proto::schema::rows::{RowDelta, RowReplica};
use tickwire_sim::{InputOutcome, JoinError, StepReport};

/// The current snapshot as arena entities.
trait States {
    /// Every entity of the current snapshot, decoded from its row.
    fn states(&self) -> Vec<EntityState>;
}

impl States for ArenaMatch {
    fn states(&self) -> Vec<EntityState> {
        self.snapshot()
            .iter()
            .map(|r| entity_from_row(r).expect("an arena row"))
            .collect()
    }
}

/// The frame a client receives for `delta`: encoded as the server does, split into its
/// header and body as the client's decoder does (the body is then the replica's to decode).
fn client_frame(
    m: &ArenaMatch,
    viewer: Option<PlayerId>,
    age: u32,
    delta: &RowDelta,
) -> StateFrame {
    let mut body = Vec::new();
    codec::encode_rows(m.schema(), delta, |_| Some(0), &mut body).unwrap();
    let mut msg = Vec::new();
    codec::encode_state(&m.header_for(viewer, age), &body, &mut msg).unwrap();
    match codec::decode_server(&msg).unwrap() {
        ServerMsg::State(frame) => frame,
        other => panic!("not a state frame: {other:?}"),
    }
}

fn config() -> MatchConfig {
    MatchConfig::default()
}

fn open() -> MapDef {
    MapDef::open_arena(1000, 1000)
}

fn arena() -> MapDef {
    toml::from_str(include_str!("../../../assets/maps/arena.toml")).unwrap()
}

fn input(seq: u32, move_x: i8, move_y: i8, aim: u8, fire: bool) -> Input {
    ArenaInput {
        move_x,
        move_y,
        aim,
        buttons: if fire { BUTTON_FIRE } else { 0 },
    }
    .message(seq, 0)
}

/// The arena input an Input message carries, as the server decodes it.
fn decoded(i: &Input) -> ArenaInput {
    Arena::decode_input(i.payload.as_bytes()).expect("arena's input")
}

/// The quantized position of a player's entity in the current snapshot, in world units.
fn pos_of(m: &ArenaMatch, id: PlayerId) -> Vec2 {
    let eid = m.player(id).unwrap().entity_id;
    let e = m.states().into_iter().find(|e| e.id == eid).unwrap();
    Vec2::new(dequantize(e.x), dequantize(e.y))
}

/// Steps `n` ticks, returning every event.
fn run(m: &mut ArenaMatch, n: u32) -> Vec<GameEvent> {
    (0..n)
        .flat_map(|_| events(&m.step()).collect::<Vec<_>>())
        .collect()
}

/// A running match of two players facing each other along y = 500: 1 at x = 100, 2 at x = 300.
fn duel(config: MatchConfig) -> ArenaMatch {
    duel_with(config, ArenaConfig::default())
}

/// Two players facing each other on the open map, under `arena`'s rules.
fn duel_with(config: MatchConfig, arena: ArenaConfig) -> ArenaMatch {
    let mut m = new_match(config, arena, open(), 7).unwrap();
    let a = m.add_player("a").unwrap();
    let b = m.add_player("b").unwrap();
    m.step();
    m.game_mut().place(a, Vec2::new(100.0, 500.0), Vec2::ZERO);
    m.game_mut().place(b, Vec2::new(300.0, 500.0), Vec2::ZERO);
    m
}

/// Player 1 holds fire towards +x until a kill or `max` ticks; returns the events.
fn shoot_until_kill(m: &mut ArenaMatch, max: u32) -> Vec<GameEvent> {
    let mut events = Vec::new();
    let mut seq = m.player(1).unwrap().last_applied_seq;
    for _ in 0..max {
        seq += 1;
        assert_eq!(
            m.push_input(1, seq, decoded(&input(seq, 0, 0, 0, true))),
            InputOutcome::Queued
        );
        let r = m.step();
        let kill = r.events.iter().any(|e| matches!(e, GameEvent::Kill { .. }));
        events.extend(crate::events(&r));
        if kill {
            break;
        }
    }
    events
}

#[test]
fn new_refuses_bad_setups() {
    let mut c = config();
    c.tick_rate = 0;
    assert!(matches!(
        new_match(c, ArenaConfig::default(), open(), 0),
        Err(SimError::Rules(_))
    ));
    let slow = ArenaConfig {
        player_accel: -1.0,
        ..ArenaConfig::default()
    };
    assert!(matches!(
        new_match(config(), slow, open(), 0),
        Err(SimError::Config(_))
    ));
    assert!(matches!(
        new_match(
            config(),
            ArenaConfig::default(),
            MapDef::open_arena(0, 5),
            0
        ),
        Err(SimError::Map(_))
    ));
    assert!(matches!(
        new_match(
            config(),
            ArenaConfig::default(),
            MapDef::open_arena(20, 1000),
            0
        ),
        Err(SimError::MapTooSmall { .. })
    ));
}

#[test]
fn join_leave_and_snapshot_contents() {
    let mut c = config();
    c.max_players = 2;
    let mut m = new_match(c, ArenaConfig::default(), open(), 1).unwrap();
    assert_eq!(m.tick(), 0);
    assert!(m.states().is_empty());
    assert_eq!(m.add_player("  al\u{7}ice  "), Ok(1));
    assert_eq!(m.add_player(""), Ok(2));
    assert_eq!(m.add_player("c"), Err(JoinError::Full));
    assert_eq!(m.player(1).unwrap().name, "alice");
    assert_eq!(m.player(2).unwrap().name, "player");
    assert_eq!(m.player(2).unwrap().entity_id, 2);
    m.step();
    let snap = m.states();
    assert_eq!(snap.len(), 2);
    assert_eq!(snap[0].kind, EntityKind::Player);
    assert_eq!(snap[0].flags, FLAG_ALIVE | FLAG_CONNECTED);
    assert_eq!(snap[0].hp, 100);
    assert_eq!(snap[0].name, "alice");
    m.set_connected(2, false);
    m.step();
    assert_eq!(m.states()[1].flags, FLAG_ALIVE);
    assert!(m.remove_player(1));
    assert!(!m.remove_player(1));
    assert_eq!(m.player_count(), 1);
    // Ids are never reused.
    assert_eq!(m.add_player("d"), Ok(3));
    m.step();
    let ids: Vec<u32> = m.states().iter().map(|e| e.id).collect();
    assert_eq!(ids, vec![2, 3]);
    assert_eq!(m.players().map(|p| p.id).collect::<Vec<_>>(), vec![2, 3]);
}

#[test]
fn player_is_stopped_by_a_wall() {
    let map = MapDef {
        name: "wall".into(),
        width: 1000,
        height: 1000,
        cell_size: 100,
        walls: vec![WallRect {
            x: 500,
            y: 0,
            w: 4,
            h: 1000,
        }],
        spawns: vec![[100.0, 500.0]],
    };
    let mut m = new_match(config(), ArenaConfig::default(), map, 0).unwrap();
    let id = m.add_player("p").unwrap();
    // Full speed into a thin wall: the sub-steps keep it on its side.
    for seq in 1..=120 {
        m.push_input(id, seq, decoded(&input(seq, 127, 0, 0, false)));
        m.step();
        let p = m.game().positions()[0];
        assert!(p.x <= 500.0 - 16.0 + 1e-3, "tick {seq}: {p}");
    }
    assert!((pos_of(&m, id).x - 484.0).abs() < 0.2);
    // Sliding along the wall still works: the velocity component into it was removed.
    let before = m.game().positions()[0];
    for seq in 121..=130 {
        m.push_input(id, seq, decoded(&input(seq, 127, 127, 0, false)));
        m.step();
    }
    let after = m.game().positions()[0];
    assert!(after.y > before.y + 20.0 && after.x <= 484.0 + 1e-3);
}

#[test]
fn player_cannot_leave_the_arena() {
    let mut m = new_match(config(), ArenaConfig::default(), open(), 3).unwrap();
    let id = m.add_player("p").unwrap();
    for (seq, (mx, my)) in (1..).zip([(-128i8, -128i8), (127, 127)]) {
        for k in 0..200 {
            m.push_input(
                id,
                seq * 1000 + k,
                decoded(&input(seq * 1000 + k, mx, my, 0, false)),
            );
            m.step();
        }
        let p = m.game().positions()[0];
        let expect = if mx < 0 { 16.0 } else { 984.0 };
        assert_eq!(p, Vec2::splat(expect));
    }
    assert_eq!(m.player(id).unwrap().inputs_rejected, 0);
}

#[test]
fn projectile_hits_damage_kill_and_score() {
    let mut m = duel(config());
    assert_eq!(m.phase(), Phase::Running);
    let events = shoot_until_kill(&mut m, 200);
    assert_eq!(
        events,
        vec![GameEvent::Kill {
            killer: 1,
            victim: 2,
            killer_entity: m.player(1).unwrap().entity_id,
            victim_entity: m.player(2).unwrap().entity_id,
        }]
    );
    assert_eq!(m.game().health(2), Some((0, false)));
    let (a, b) = (m.game().stats(1).unwrap(), m.game().stats(2).unwrap());
    assert_eq!((a.kills, a.score, a.deaths), (1, 1, 0));
    assert_eq!((b.kills, b.score, b.deaths), (0, 0, 1));
    let eb = m.states().into_iter().find(|e| e.id == 2).unwrap();
    assert_eq!((eb.hp, eb.flags & FLAG_ALIVE), (0, 0));
    let results = m.results();
    assert_eq!(results[0].player_id, 1);
    assert_eq!((results[1].player_id, results[1].deaths), (2, 1));
}

#[test]
fn hits_take_exactly_damage_and_projectiles_are_replicated() {
    let mut m = duel(config());
    m.push_input(1, 1, decoded(&input(1, 0, 0, 0, true)));
    m.step();
    let shot = m
        .states()
        .into_iter()
        .find(|e| e.kind == EntityKind::Projectile);
    let shot = shot.expect("projectile in the snapshot");
    assert_eq!((shot.owner, shot.aim, shot.hp, shot.id), (1, 0, 0, 3));
    // Release fire and wait for the one shot to land.
    m.push_input(1, 2, decoded(&input(2, 0, 0, 0, false)));
    run(&mut m, 20);
    assert_eq!(m.game().health(2), Some((75, true)));
    assert_eq!(m.game().projectile_count(), 0);
}

#[test]
fn projectiles_stop_at_walls() {
    let map = MapDef {
        name: "wall".into(),
        width: 1000,
        height: 1000,
        cell_size: 100,
        walls: vec![WallRect {
            x: 200,
            y: 0,
            w: 2,
            h: 1000,
        }],
        spawns: vec![[100.0, 500.0], [300.0, 500.0]],
    };
    let mut m = new_match(config(), ArenaConfig::default(), map, 0).unwrap();
    m.add_player("a").unwrap();
    m.add_player("b").unwrap();
    m.step();
    m.game_mut().place(1, Vec2::new(100.0, 500.0), Vec2::ZERO);
    m.game_mut().place(2, Vec2::new(300.0, 500.0), Vec2::ZERO);
    for seq in 1..=60 {
        m.push_input(1, seq, decoded(&input(seq, 0, 0, 0, true)));
        m.step();
        for p in &m.game().positions()[2..] {
            assert!(p.x < 200.0, "projectile passed the wall: {p}");
        }
    }
    assert_eq!(m.game().health(2), Some((100, true)));
}

#[test]
fn no_damage_while_waiting() {
    let mut c = config();
    c.min_players = 3;
    let mut m = duel(c);
    assert_eq!(m.phase(), Phase::Waiting);
    let events = shoot_until_kill(&mut m, 200);
    assert!(events.is_empty());
    assert_eq!(m.game().health(2), Some((100, true)));
    // Shots did land (and were absorbed): none is older than its flight to the target.
    assert!(m.game().projectile_count() <= 2);
}

#[test]
fn respawn_after_respawn_time_with_full_hp_at_a_spawn() {
    let mut m = duel(config());
    shoot_until_kill(&mut m, 200);
    m.push_input(1, 1000, decoded(&input(1000, 0, 0, 0, false)));
    let respawn = m.config().ticks(m.game().config().respawn_ms);
    assert_eq!(respawn, 60);
    run(&mut m, respawn - 1);
    assert_eq!(m.game().health(2), Some((0, false)));
    m.step();
    assert_eq!(m.game().health(2), Some((100, true)));
    let p = m.game().positions()[1];
    assert!(
        m.game().map().spawns.iter().any(|s| Vec2::from(*s) == p),
        "{p} is not a spawn point"
    );
    let e = m.states().into_iter().find(|e| e.id == 2).unwrap();
    assert_eq!((e.hp, e.flags & FLAG_ALIVE), (100, FLAG_ALIVE));
}

#[test]
fn phases_by_time() {
    let mut c = config();
    c.match_duration_secs = 1;
    let mut m = new_match(c, ArenaConfig::default(), open(), 0).unwrap();
    m.add_player("a").unwrap();
    assert!(run(&mut m, 5).is_empty());
    assert_eq!((m.phase(), m.phase_ticks_left()), (Phase::Waiting, 0));
    m.add_player("b").unwrap();
    let r = m.step();
    assert_eq!(
        events(&r).collect::<Vec<_>>(),
        vec![GameEvent::PhaseChanged {
            phase: Phase::Running,
            ticks: 30
        }]
    );
    assert_eq!((m.phase(), m.phase_ticks_left()), (Phase::Running, 30));
    assert_eq!(m.header_for(None, 0).phase_ticks_left, 30);
    // Zero players while running: it keeps running.
    m.remove_player(1);
    m.remove_player(2);
    run(&mut m, 29);
    assert_eq!((m.phase(), m.phase_ticks_left()), (Phase::Running, 1));
    let r = m.step();
    assert_eq!(r.ended, Some(EndReason::TimeLimit));
    assert_eq!(
        events(&r).collect::<Vec<_>>(),
        vec![GameEvent::PhaseChanged {
            phase: Phase::Ended,
            ticks: 0
        }]
    );
    assert_eq!(
        (m.phase(), m.end_reason()),
        (Phase::Ended, Some(EndReason::TimeLimit))
    );
    let tick = m.tick();
    assert_eq!(
        m.step(),
        StepReport {
            tick,
            events: vec![],
            private: vec![],
            phase: None,
            ended: None,
            answers: vec![],
        }
    );
    assert_eq!(m.add_player("late"), Err(JoinError::Ended));
}

#[test]
fn phases_by_score_limit() {
    let mut m = duel_with(
        config(),
        ArenaConfig {
            score_limit: 1,
            ..ArenaConfig::default()
        },
    );
    let events = shoot_until_kill(&mut m, 200);
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[1],
        GameEvent::PhaseChanged {
            phase: Phase::Ended,
            ticks: 0
        }
    );
    assert_eq!(m.end_reason(), Some(EndReason::ScoreLimit));
}

#[test]
fn operator_end() {
    let mut m = duel(config());
    m.end(EndReason::Admin);
    m.end(EndReason::Shutdown);
    assert_eq!(
        (m.phase(), m.end_reason()),
        (Phase::Ended, Some(EndReason::Admin))
    );
    assert_eq!(m.step().ended, None);
}

#[test]
fn input_queue_rules() {
    let mut m = new_match(config(), ArenaConfig::default(), open(), 0).unwrap();
    let id = m.add_player("p").unwrap();
    assert_eq!(
        m.push_input(99, 1, decoded(&input(1, 0, 0, 0, false))),
        InputOutcome::UnknownPlayer
    );
    assert_eq!(
        m.push_input(id, 1025, decoded(&input(1025, 0, 0, 0, false))),
        InputOutcome::Rejected
    );
    assert_eq!(
        m.push_input(id, 1, decoded(&input(1, 0, 0, 0, false))),
        InputOutcome::Queued
    );
    assert_eq!(
        m.push_input(id, 1, decoded(&input(1, 0, 0, 0, false))),
        InputOutcome::Stale
    );
    assert_eq!(
        m.push_input(id, 0, decoded(&input(0, 0, 0, 0, false))),
        InputOutcome::Stale
    );
    for seq in 2..=8 {
        assert_eq!(
            m.push_input(id, seq, decoded(&input(seq, 127, 0, 0, false))),
            InputOutcome::Queued
        );
    }
    assert_eq!(
        m.push_input(id, 9, decoded(&input(9, 0, 0, 0, false))),
        InputOutcome::Dropped
    );
    assert_eq!(
        m.push_input(id, u32::MAX, decoded(&input(u32::MAX, 0, 0, 0, false))),
        InputOutcome::Rejected
    );
    let info = m.player(id).unwrap();
    assert_eq!(
        (info.inputs_stale, info.inputs_dropped, info.inputs_rejected),
        (2, 1, 2)
    );
    // One input per tick.
    m.step();
    assert_eq!(m.player(id).unwrap().last_applied_seq, 1);
    assert_eq!(m.queued_inputs(id), 7);
    assert_eq!(m.header_for(Some(id), 0).last_input, 1);
    assert_eq!(m.header_for(None, 0).last_input, 0);
    run(&mut m, 7);
    assert_eq!(m.player(id).unwrap().last_applied_seq, 8);
    // The queue is empty: the last input (full right) repeats and the player keeps going.
    let x0 = m.game().positions()[0].x;
    run(&mut m, 5);
    let x1 = m.game().positions()[0].x;
    assert!(x1 > x0 + 10.0);
    assert_eq!(m.player(id).unwrap().last_applied_seq, 8);
}

#[test]
fn repeated_input_keeps_firing() {
    let mut c = config();
    c.min_players = 1;
    let mut m = new_match(c, ArenaConfig::default(), open(), 0).unwrap();
    let id = m.add_player("p").unwrap();
    // Enter Running first: warm-up shots are cleared when it starts.
    m.step();
    m.push_input(id, 1, decoded(&input(1, 0, 0, 0, true)));
    // 30 ticks with a 9-tick cooldown: shots at ticks 2, 11, 20 and 29.
    let mut shots = std::collections::BTreeSet::new();
    for _ in 0..30 {
        m.step();
        shots.extend(m.states().iter().filter(|e| e.owner == 1).map(|e| e.id));
    }
    assert_eq!(shots.len(), 4);
}

#[test]
fn disconnected_players_stand_still_and_hold_fire() {
    let mut m = new_match(config(), ArenaConfig::default(), open(), 0).unwrap();
    let id = m.add_player("p").unwrap();
    m.push_input(id, 1, decoded(&input(1, 127, 0, 77, false)));
    m.step();
    for seq in 2..=5 {
        m.push_input(id, seq, decoded(&input(seq, 127, 0, 77, true)));
    }
    m.set_connected(id, false);
    assert_eq!(m.queued_inputs(id), 0);
    assert_eq!(
        m.push_input(id, 6, decoded(&input(6, 127, 0, 77, true))),
        InputOutcome::Queued
    );
    run(&mut m, 30);
    assert_eq!(m.queued_inputs(id), 0);
    let p = m.game().positions()[0];
    run(&mut m, 5);
    assert_eq!(m.game().positions()[0], p, "friction stopped it");
    assert_eq!(m.game().projectile_count(), 0);
    assert_eq!(m.states()[0].aim, 77);
    assert_eq!(m.states()[0].flags, FLAG_ALIVE);
    // Reconnected: the first input is accepted whatever its sequence number.
    m.set_connected(id, true);
    assert_eq!(
        m.push_input(id, 1, decoded(&input(1, 0, 0, 0, false))),
        InputOutcome::Queued
    );
    m.step();
    assert_eq!(m.player(id).unwrap().last_applied_seq, 1);
}

/// The deterministic input log of the determinism test: player, input.
fn scripted_inputs(seed: u64, tick: u32, players: u32) -> Vec<(PlayerId, Input)> {
    let mut rng = SplitMix64::new(seed ^ u64::from(tick).wrapping_mul(0x9E37_79B9));
    (1..=players)
        .map(|id| {
            let bits = rng.next_u64();
            let i = ArenaInput {
                move_x: bits as i8,
                move_y: (bits >> 8) as i8,
                aim: (bits >> 16) as u8,
                buttons: (bits >> 24) as u8 & 1,
            }
            .message(tick, tick.saturating_sub(2));
            (id, i)
        })
        .collect()
}

#[test]
fn determinism_same_seed_same_inputs() {
    let make = || {
        let mut m = new_match(config(), ArenaConfig::default(), arena(), 0xDEAD_BEEF).unwrap();
        for i in 0..8 {
            m.add_player(&format!("p{i}")).unwrap();
        }
        m
    };
    let (mut a, mut b) = (make(), make());
    let mut kills = 0;
    let mut projectiles = 0;
    for tick in 1..=300 {
        for (id, i) in scripted_inputs(42, tick, 8) {
            // Every 7th input of a player goes missing: exercises the repeat path too.
            if (tick + id) % 7 != 0 {
                assert_eq!(
                    a.push_input(id, i.seq, decoded(&i)),
                    b.push_input(id, i.seq, decoded(&i))
                );
            }
        }
        let (ra, rb) = (a.step(), b.step());
        assert_eq!(ra, rb);
        kills += ra
            .events
            .iter()
            .filter(|e| matches!(e, GameEvent::Kill { .. }))
            .count();
        assert_eq!(a.states(), b.states(), "tick {tick}");
        assert_eq!(a.state_hash(), b.state_hash(), "tick {tick}");
        assert_eq!(a.game().positions(), b.game().positions());
        projectiles += a
            .states()
            .iter()
            .filter(|e| e.kind == EntityKind::Projectile)
            .count();
    }
    assert!(projectiles > 100, "the players shot ({projectiles})");
    assert!(kills > 0, "someone died ({kills})");
    // A different seed diverges (spawn choice), so the hash does depend on the state.
    let mut c = new_match(config(), ArenaConfig::default(), arena(), 1).unwrap();
    for i in 0..8 {
        c.add_player(&format!("p{i}")).unwrap();
    }
    c.step();
    let mut d = make();
    d.step();
    assert_ne!(c.state_hash(), d.state_hash());
}

#[test]
fn delta_since_uses_held_baselines_only() {
    let mut m = new_match(config(), ArenaConfig::default(), open(), 5).unwrap();
    for i in 0..4 {
        m.add_player(&format!("p{i}")).unwrap();
    }
    let mut replica = RowReplica::new((**m.schema()).clone());
    let mut out = RowDelta::default();
    for tick in 1..=100u32 {
        for (id, i) in scripted_inputs(9, tick, 4) {
            m.push_input(id, i.seq, decoded(&i));
        }
        m.step();
        // A client that acknowledges every other tick.
        let ack = if tick % 2 == 0 {
            replica.newest_tick().unwrap_or(0)
        } else {
            0
        };
        let age = m.delta_since(ack, &mut out);
        assert_eq!(age, m.baseline_age(ack));
        let frame = client_frame(&m, Some(1), age, &out);
        let world = replica
            .apply_body(frame.header.tick, frame.header.baseline_age, &frame.body)
            .unwrap();
        assert_eq!(
            world_of(world).into_values().collect::<Vec<_>>(),
            m.states()
        );
    }
    let t = m.tick();
    assert_eq!(m.baseline_age(0), 0);
    assert_eq!(m.baseline_age(t), 0, "the current tick is no baseline");
    assert_eq!(m.baseline_age(t + 5), 0, "a future ack is unknown");
    assert_eq!(m.baseline_age(t - 1), 1);
    assert_eq!(m.baseline_age(t - 63), 63);
    assert_eq!(
        m.baseline_age(t - 64),
        0,
        "evicted from the 64-tick history"
    );
    assert!(m.snapshot_at(t - 64).is_none());
    assert_eq!(m.snapshot_at(t), Some(m.snapshot()));
    // A full delta creates everything.
    assert_eq!(m.delta_since(t - 64, &mut out), 0);
    assert_eq!(out.created, m.snapshot());
    assert!(out.removed.is_empty() && out.updated.is_empty());
}

#[derive(Clone, Debug)]
enum Op {
    Input(u8, u32, i8, i8, u8, u8),
    Step,
    Connect(u8, bool),
    Join,
    Leave(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..6, any::<u32>(), any::<i8>(), any::<i8>(), any::<u8>(), any::<u8>())
            .prop_map(|(p, s, x, y, a, b)| Op::Input(p, s, x, y, a, b)),
        // Small sequence numbers too, so that many inputs are accepted.
        6 => (0u8..6, 0u32..2000, any::<i8>(), any::<i8>(), any::<u8>(), any::<u8>())
            .prop_map(|(p, s, x, y, a, b)| Op::Input(p, s, x, y, a, b)),
        6 => Just(Op::Step),
        1 => (0u8..6, any::<bool>()).prop_map(|(p, c)| Op::Connect(p, c)),
        1 => Just(Op::Join),
        1 => (0u8..6).prop_map(Op::Leave),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn arbitrary_inputs_keep_the_world_sane(ops in proptest::collection::vec(op(), 0..400)) {
        let mut c = config();
        c.min_players = 2;
        let a = ArenaConfig {
            respawn_ms: 100,
            ..ArenaConfig::default()
        };
        let mut m = new_match(c, a, arena(), 11).unwrap();
        m.add_player("a").unwrap();
        m.add_player("b").unwrap();
        for op in ops {
            match op {
                Op::Input(p, seq, move_x, move_y, aim, buttons) => {
                    let i = ArenaInput { move_x, move_y, aim, buttons }.message(seq, seq);
                    m.push_input(u32::from(p), i.seq, decoded(&i));
                }
                Op::Step => {
                    m.step();
                }
                Op::Connect(p, c) => m.set_connected(u32::from(p), c),
                Op::Join => {
                    let _ = m.add_player("j");
                }
                Op::Leave(p) => {
                    m.remove_player(u32::from(p));
                }
            }
            let r = m.game().config().player_radius;
            for (k, p) in m.game().positions().iter().enumerate() {
                prop_assert!(p.is_finite());
                let margin = if k < m.player_count() { r } else { 0.0 };
                prop_assert!(p.x >= margin && p.y >= margin, "{p}");
                prop_assert!(p.x <= 1000.0 - margin && p.y <= 1000.0 - margin, "{p}");
            }
            let snap = m.states();
            prop_assert!(snap.windows(2).all(|w| w[0].id < w[1].id));
            prop_assert!(snap.iter().all(|e| (0..=8000).contains(&e.x) && (0..=8000).contains(&e.y)));
        }
    }
}
