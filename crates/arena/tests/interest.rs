//! Areas of interest, budgets and priorities of the engine's `ClientView`, exercised on arena
//! matches (players walking in and out of each other's view, projectiles owned by players).

use glam::Vec2;
use proptest::prelude::*;
use tickwire_arena::entity::{POS_SCALE, dequantize, quantize};
use tickwire_arena::schema::{arena_schema, entity_from_row, kind_code, world_of};
use tickwire_arena::{ArenaConfig, ArenaInput, ArenaMatch, BUTTON_FIRE, MapDef, new_match};
use tickwire_arena::{EntityKind, EntityState};
use tickwire_proto::codec;
use tickwire_proto::msg::{ServerMsg, StateFrame};
use tickwire_proto::schema::rows::{EntityRow, FrameError, RowDelta, RowReplica};
use tickwire_sim::config::MIN_FRAME_BUDGET_BYTES;
use tickwire_sim::interest::{delta_len, overdue_ticks};
use tickwire_sim::{ClientView, FrameScratch, MatchConfig, PlayerId, SplitMix64};

/// Arena's rules without a score limit, so a long run never ends by score.
fn unlimited() -> ArenaConfig {
    ArenaConfig {
        score_limit: 0,
        ..ArenaConfig::default()
    }
}

/// Arena entities of engine rows.
fn states(rows: &[EntityRow]) -> Vec<EntityState> {
    rows.iter()
        .map(|r| entity_from_row(r).expect("an arena row"))
        .collect()
}

/// The quantized position of an arena row.
fn xy(e: &EntityRow) -> (i32, i32) {
    (e.values[0] as i32, e.values[1] as i32)
}

/// The frame a client of `m` receives for `delta`: encoded as the server encodes it, decoded
/// by the client's own message decoder; with the encoded body's length (its prefix included).
fn wire(
    m: &ArenaMatch,
    viewer: Option<PlayerId>,
    age: u32,
    delta: &RowDelta,
) -> (StateFrame, usize) {
    let mut body = Vec::new();
    codec::encode_rows(m.schema(), delta, |_| Some(0), &mut body).unwrap();
    let mut msg = Vec::new();
    codec::encode_state(&m.header_for(viewer, age), &body, &mut msg).unwrap();
    match codec::decode_server(&msg).unwrap() {
        ServerMsg::State(frame) => (frame, body.len()),
        other => panic!("not a state frame: {other:?}"),
    }
}

/// Applies `frame` as a client does (its body decoded with arena's schema), giving the new
/// world as arena entities.
fn apply(replica: &mut RowReplica, frame: &StateFrame) -> Result<Vec<EntityState>, FrameError> {
    let world = replica.apply_body(frame.header.tick, frame.header.baseline_age, &frame.body)?;
    Ok(world_of(world).into_values().collect())
}

/// The relevance predicate, written out: the quantized position is within `radius` world units
/// of the quantized centre (inclusive).
fn within(e: &EntityState, (cx, cy): (i32, i32), radius: f32) -> bool {
    let (dx, dy) = (
        i64::from(e.x) - i64::from(cx),
        i64::from(e.y) - i64::from(cy),
    );
    let r = f64::from(radius) * f64::from(POS_SCALE);
    (dx * dx + dy * dy) as f64 <= r * r
}

/// A match on an open square arena of side `side` with areas of interest of `view_radius`
/// world units and `players` players named p0, p1, …
fn open_match(view_radius: f32, players: usize, side: u32, seed: u64) -> ArenaMatch {
    let mut m = new_match(
        config(view_radius, players),
        unlimited(),
        MapDef::open_arena(side, side),
        seed,
    )
    .unwrap();
    for i in 0..players {
        m.add_player(&format!("p{i}")).unwrap();
    }
    m
}

fn config(view_radius: f32, players: usize) -> MatchConfig {
    MatchConfig {
        max_players: players as u16,
        min_players: 1,
        view_radius,
        ..MatchConfig::default()
    }
}

/// Random-walk inputs: each player keeps a heading for a while, so players cross each other's
/// view radius; a quarter of them hold fire now and then.
struct Walk {
    rng: SplitMix64,
    /// Per player: seq, move x, move y, aim.
    state: Vec<(u32, i8, i8, u8)>,
    fire: bool,
}

impl Walk {
    fn new(players: usize, seed: u64, fire: bool) -> Walk {
        Walk {
            rng: SplitMix64::new(seed),
            state: vec![(0, 0, 0, 0); players],
            fire,
        }
    }

    fn push(&mut self, m: &mut ArenaMatch) {
        for (i, (seq, mx, my, aim)) in self.state.iter_mut().enumerate() {
            let bits = self.rng.next_u64();
            if bits % 16 == 0 || (*mx == 0 && *my == 0) {
                *mx = (bits >> 8) as i8;
                *my = (bits >> 16) as i8;
                *aim = (bits >> 24) as u8;
            }
            *seq += 1;
            let fire = self.fire && i % 4 == 0 && (bits >> 32) % 8 == 0;
            m.push_input(
                i as u32 + 1,
                *seq,
                ArenaInput {
                    move_x: *mx,
                    move_y: *my,
                    aim: *aim,
                    buttons: if fire { BUTTON_FIRE } else { 0 },
                },
            );
        }
    }
}

/// The relevant set by brute force over the whole snapshot.
fn brute_relevant(
    m: &ArenaMatch,
    viewer: Option<PlayerId>,
    focus: Option<[f32; 2]>,
) -> Vec<EntityState> {
    let snap = states(m.snapshot());
    let own = viewer
        .and_then(|id| m.player(id))
        .map(|p| p.entity_id)
        .filter(|id| snap.iter().any(|e| e.id == *id));
    let centre = own
        .and_then(|id| snap.iter().find(|e| e.id == id))
        .map(|e| (e.x, e.y))
        .or(focus.map(|[x, y]| (quantize(x), quantize(y))));
    let r = m.config().view_radius;
    match centre {
        Some(c) if r > 0.0 => snap
            .iter()
            .filter(|e| {
                Some(e.id) == own || (own.is_some() && Some(e.owner) == own) || within(e, c, r)
            })
            .cloned()
            .collect(),
        _ => snap.to_vec(),
    }
}

/// One simulated client behind a lossy, reordering, latest-wins link.
struct Client {
    viewer: Option<PlayerId>,
    focus: Option<[f32; 2]>,
    view: ClientView,
    replica: RowReplica,
    /// Frames on their way: (arrival tick, frame, the view the server recorded for it).
    frames: Vec<(u32, StateFrame, Vec<EntityState>)>,
    /// Acks on their way: (arrival tick, ack).
    acks: Vec<(u32, u32)>,
    /// The ack the server last received (may go back: acks are reordered).
    ack: u32,
    creates: usize,
    removes: usize,
}

impl Client {
    fn new(viewer: Option<PlayerId>, focus: Option<[f32; 2]>) -> Client {
        let mut view = ClientView::new();
        view.set_focus(focus);
        Client {
            viewer,
            focus,
            view,
            replica: RowReplica::new(arena_schema()),
            frames: Vec::new(),
            acks: Vec::new(),
            ack: 0,
            creates: 0,
            removes: 0,
        }
    }

    /// One tick of this client: receive acks, build and check the frame, deliver frames.
    fn tick(
        &mut self,
        m: &ArenaMatch,
        budget: Option<usize>,
        rng: &mut SplitMix64,
        out: &mut RowDelta,
    ) {
        let tick = m.tick();
        // Acks that arrived; the last to arrive wins, even if older (reordered).
        self.acks.sort_by_key(|a| a.0);
        while self.acks.first().is_some_and(|a| a.0 <= tick) {
            self.ack = self.acks.remove(0).1;
        }
        let r = rng.next_u64();
        let ack = match r % 20 {
            0 => 0,
            1 => tick + 3, // a tick from the future: ignored
            _ => self.ack,
        };
        let age = self.view.frame(
            m,
            self.viewer,
            ack,
            budget,
            &mut FrameScratch::default(),
            out,
        );
        let stats = *self.view.stats();
        assert_eq!(stats.tick, tick);
        assert_eq!(stats.baseline_age, age);
        let (frame, len) = wire(m, self.viewer, age, out);
        assert_eq!(
            delta_len(m.schema(), out, |_| Some(0)),
            len,
            "delta_len is exact"
        );
        let sent = states(&self.view.sent_view(tick, m).expect("this tick's view"));
        if budget.is_none() {
            assert_eq!(
                sent,
                brute_relevant(m, self.viewer, self.focus),
                "unlimited view = relevant snapshot"
            );
        } else {
            let b = stats.budget.unwrap();
            if stats.mandatory_bytes + stats.max_entity_bytes <= b {
                // Estimates use typical code orders and id gaps: a couple of bytes short per
                // entry at worst.
                assert!(
                    len <= b + 2 * (out.updated.len() + out.created.len()),
                    "{stats:?}"
                );
            }
        }
        self.creates += out.created.len();
        self.removes += out.removed.len();
        // Lossy link: 20% lost, 0..=3 ticks late.
        if r >> 8 & 0xff >= 51 {
            self.frames.push((tick + (r >> 16) as u32 % 4, frame, sent));
        }
        // Latest-wins delivery: of the frames due, apply in tick order, skipping stale ones.
        self.frames.sort_by_key(|f| f.1.header.tick);
        let mut i = 0;
        while i < self.frames.len() {
            if self.frames[i].0 > tick {
                i += 1;
                continue;
            }
            let (_, frame, sent) = self.frames.remove(i);
            if self
                .replica
                .newest_tick()
                .is_some_and(|n| frame.header.tick <= n)
            {
                continue;
            }
            let world = apply(&mut self.replica, &frame).expect("frame applies");
            assert_eq!(
                world, sent,
                "the replica equals the sent view of tick {}",
                frame.header.tick
            );
            // The ack: 10% lost, 0..=4 ticks late.
            let a = rng.next_u64();
            if a % 10 != 0 {
                self.acks
                    .push((tick + (a >> 8) as u32 % 5, frame.header.tick));
            }
        }
    }
}

/// Runs `players` random walkers with one client per player plus two spectators.
fn run_clients(
    seed: u64,
    players: usize,
    side: u32,
    view_radius: f32,
    budget: Option<usize>,
    ticks: u32,
) -> Vec<Client> {
    let mut m = open_match(view_radius, players, side, seed);
    let mut walk = Walk::new(players, seed, true);
    let mut clients: Vec<Client> = (1..=players as u32)
        .map(|id| Client::new(Some(id), None))
        .collect();
    clients.push(Client::new(None, None));
    clients.push(Client::new(
        None,
        Some([side as f32 / 2.0, side as f32 / 2.0]),
    ));
    let mut rng = SplitMix64::new(seed ^ 0x5eed);
    let mut out = RowDelta::default();
    for t in 0..ticks {
        walk.push(&mut m);
        m.step();
        if t == ticks / 2 {
            // A player leaves: its entity and projectiles go.
            m.remove_player(2);
            clients[1].viewer = Some(2);
        }
        for c in &mut clients {
            c.tick(&m, budget, &mut rng, &mut out);
        }
    }
    clients
}

#[test]
fn walking_in_and_out_of_view_creates_and_removes() {
    let clients = run_clients(3, 12, 1000, 150.0, None, 300);
    let creates: usize = clients.iter().map(|c| c.creates).sum();
    let removes: usize = clients.iter().map(|c| c.removes).sum();
    // Far more than the initial creates: players keep entering and leaving each other's view.
    assert!(creates > 200 && removes > 100, "{creates} {removes}");
    // A player's client never sees the whole world at once here.
    let v = &clients[0].view;
    assert!(v.stats().relevant < 12 + 10, "{:?}", v.stats());
}

#[test]
fn a_player_entering_the_radius_is_created_and_leaving_removed() {
    let mut m = new_match(
        config(100.0, 2),
        unlimited(),
        MapDef::open_arena(1000, 1000),
        1,
    )
    .unwrap();
    let (a, b) = (m.add_player("a").unwrap(), m.add_player("b").unwrap());
    m.step();
    let mut view = ClientView::new();
    let mut out = RowDelta::default();
    let mut at = |m: &mut ArenaMatch, x: f32, view: &mut ClientView| {
        m.game_mut().place(a, Vec2::new(100.0, 100.0), Vec2::ZERO);
        m.game_mut().place(b, Vec2::new(x, 100.0), Vec2::ZERO);
        m.step();
        let ack = view.sent_view(m.tick() - 1, m).map_or(0, |_| m.tick() - 1);
        let age = view.frame(
            m,
            Some(a),
            ack,
            None,
            &mut FrameScratch::default(),
            &mut out,
        );
        (age, out.clone())
    };
    let (age, d) = at(&mut m, 500.0, &mut view);
    assert_eq!(age, 0);
    assert_eq!(d.created.iter().map(|e| e.id).collect::<Vec<_>>(), vec![1]);
    let (age, d) = at(&mut m, 200.0, &mut view);
    assert_eq!(age, 1);
    assert_eq!(d.created.iter().map(|e| e.id).collect::<Vec<_>>(), vec![2]);
    assert!(d.removed.is_empty() && d.updated.is_empty());
    // Exactly on the radius still counts.
    let (_, d) = at(&mut m, 200.0, &mut view);
    assert!(d.created.is_empty() && d.removed.is_empty());
    let (_, d) = at(&mut m, 201.0, &mut view);
    // Entity 2 is the second of the baseline view.
    assert_eq!(d.removed, vec![1]);
    // A spectator focused elsewhere sees nobody; unfocused, everybody.
    let mut spec = ClientView::new();
    spec.set_focus(Some([900.0, 900.0]));
    spec.frame(&m, None, 0, None, &mut FrameScratch::default(), &mut out);
    assert!(out.created.is_empty());
    spec.set_focus(None);
    m.step();
    spec.frame(
        &m,
        None,
        m.tick() - 1,
        None,
        &mut FrameScratch::default(),
        &mut out,
    );
    assert_eq!(out.created.len(), 2);
    // Pinned entities are relevant anywhere.
    let mut pinned = ClientView::new();
    pinned.set_pinned(&[2, 99]);
    pinned.frame(&m, Some(a), 0, None, &mut FrameScratch::default(), &mut out);
    assert_eq!(
        out.created.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![1, 2]
    );
}

#[test]
fn unlimited_without_interest_equals_the_shared_delta() {
    let mut m = open_match(0.0, 8, 1000, 5);
    let mut walk = Walk::new(8, 5, true);
    let mut rng = SplitMix64::new(77);
    let mut views = [ClientView::new(), ClientView::new(), ClientView::new()];
    let mut acks = [0u32; 3];
    let (mut mine, mut shared) = (RowDelta::default(), RowDelta::default());
    let mut deltas = 0;
    for _ in 0..200 {
        walk.push(&mut m);
        m.step();
        let tick = m.tick();
        for (k, view) in views.iter_mut().enumerate() {
            // Acknowledgements move forward by a random lag, sometimes not at all.
            let lag = (rng.next_u64() % 6) as u32;
            if lag < 5 && tick > lag + 1 {
                acks[k] = acks[k].max(tick - 1 - lag);
            }
            let viewer = (k < 2).then_some(k as u32 + 1);
            if k == 2 {
                let age = view.try_shared(&m, viewer, acks[k], None).unwrap();
                assert_eq!(age, m.baseline_age(acks[k]));
                assert!(view.stats().shared);
                continue;
            }
            let age = view.frame(
                &m,
                viewer,
                acks[k],
                None,
                &mut FrameScratch::default(),
                &mut mine,
            );
            let expected = m.delta_since(acks[k], &mut shared);
            assert_eq!(age, expected);
            assert_eq!(m.delta_since(tick - age, &mut shared), age);
            assert_eq!(mine, shared);
            deltas += usize::from(age > 0);
        }
    }
    assert!(deltas > 300, "{deltas}");
    // With a budget or with interest management the frame is the client's own.
    assert_eq!(views[0].try_shared(&m, Some(1), acks[0], Some(1000)), None);
}

#[test]
fn switching_between_shared_and_own_frames_stays_exact() {
    let mut m = open_match(200.0, 6, 800, 9);
    let mut walk = Walk::new(6, 9, true);
    let mut view = ClientView::new();
    let mut replica = RowReplica::new(arena_schema());
    let mut out = RowDelta::default();
    for t in 0..120u32 {
        walk.push(&mut m);
        m.step();
        let ack = replica.newest_tick().unwrap_or(0);
        // A spectator whose focus and budget change: shared, own, budgeted frames interleave.
        view.set_focus((t % 20 >= 10).then_some([400.0, 400.0]));
        let budget = (t % 7 == 0).then_some(200);
        let age = match view.try_shared(&m, None, ack, budget) {
            Some(age) => {
                m.delta_since(m.tick() - age, &mut out);
                age
            }
            None => view.frame(
                &m,
                None,
                ack,
                budget,
                &mut FrameScratch::default(),
                &mut out,
            ),
        };
        let (frame, _) = wire(&m, None, age, &out);
        let world = apply(&mut replica, &frame).unwrap();
        let sent = states(&view.sent_view(m.tick(), &m).unwrap());
        assert_eq!(world, sent);
        // Calling again in the same tick re-sends the same view.
        let again = view.frame(
            &m,
            None,
            ack,
            budget,
            &mut FrameScratch::default(),
            &mut out,
        );
        assert_eq!(again, age);
        assert_eq!(states(&view.sent_view(m.tick(), &m).unwrap()), sent);
    }
    view.reset();
    assert_eq!(
        view.frame(
            &m,
            None,
            m.tick() - 1,
            None,
            &mut FrameScratch::default(),
            &mut out
        ),
        0
    );
}

/// Steps a match of `n` players crowded in view of player 1, all always moving, and checks that
/// every entity is sent fresh within the documented bound.
fn starvation(n: usize, lag: u32, budget: usize) -> (u32, u32) {
    let mut m = new_match(
        config(1000.0, n),
        unlimited(),
        MapDef::open_arena(600, 600),
        4,
    )
    .unwrap();
    for i in 0..n {
        m.add_player(&format!("player{i}")).unwrap();
    }
    let mut walk = Walk::new(n, 4, false);
    let mut view = ClientView::new();
    let mut out = RowDelta::default();
    // Per entity id: the last tick the view held its current state.
    let mut fresh = vec![0u32; n + 1];
    let mut worst = 0;
    let (mut max_mand, mut max_entity, mut max_rel) = (0, 0, 0);
    let ticks = 400;
    for _ in 0..ticks {
        // Everybody keeps moving: a fresh heading whenever one stops against a wall.
        walk.push(&mut m);
        m.step();
        let tick = m.tick();
        let ack = tick.saturating_sub(lag);
        view.frame(
            &m,
            Some(1),
            ack,
            Some(budget),
            &mut FrameScratch::default(),
            &mut out,
        );
        let s = *view.stats();
        assert_eq!(s.relevant, n, "everybody is in view");
        max_mand = max_mand.max(s.mandatory_bytes);
        max_entity = max_entity.max(s.max_entity_bytes);
        max_rel = max_rel.max(s.relevant - 1);
        let sent = view.sent_view(tick, &m).unwrap();
        for e in m.snapshot() {
            let id = e.id as usize;
            if sent.iter().any(|v| v == e) {
                fresh[id] = tick;
            }
            // Entities start "fresh" at tick 0 (first relevant at tick 1).
            worst = worst.max(tick - fresh[id]);
        }
    }
    let k = (budget - max_mand) / max_entity;
    eprintln!("mand {max_mand} entity {max_entity} k {k}");
    assert!(
        k >= 1,
        "budget {budget} mandatory {max_mand} entity {max_entity}"
    );
    let bound = overdue_ticks(30) + lag.max(1) * max_rel.div_ceil(k) as u32;
    assert!(
        worst <= bound,
        "worst wait {worst} > bound {bound} (K {k}, N {max_rel}, L {lag})"
    );
    (worst, bound)
}

#[test]
fn starvation_bound_holds_with_a_tiny_budget() {
    for (n, lag) in [(40, 1), (80, 1), (80, 3), (120, 2), (60, 6)] {
        let (worst, bound) = starvation(n, lag, MIN_FRAME_BUDGET_BYTES);
        eprintln!("n {n} lag {lag}: worst {worst} bound {bound}");
        // The budget really binds: entities wait well past one tick.
        assert!(worst >= 3, "n {n} lag {lag}: worst {worst}, bound {bound}");
    }
    // Plenty of budget: everything is fresh every tick.
    let (worst, _) = starvation(40, 3, 100_000);
    assert_eq!(worst, 0);
}

#[test]
fn near_entities_are_refreshed_more_often_than_far_ones() {
    let n = 60;
    let mut m = open_match(1000.0, n, 1000, 8);
    let mut walk = Walk::new(n, 8, false);
    let mut view = ClientView::new();
    let mut out = RowDelta::default();
    let (mut near, mut far) = ((0u32, 0u32), (0u32, 0u32));
    for _ in 0..300 {
        walk.push(&mut m);
        m.step();
        // The viewer sits in a corner; entities are near or far from it.
        m.game_mut().place(1, Vec2::new(20.0, 20.0), Vec2::ZERO);
        let tick = m.tick();
        view.frame(
            &m,
            Some(1),
            tick - 1,
            Some(160),
            &mut FrameScratch::default(),
            &mut out,
        );
        // Refreshed this tick: the view holds the entity's current state.
        let sent = view.sent_view(tick, &m).expect("this tick's view");
        for e in m.snapshot() {
            if !sent.contains(e) {
                continue;
            }
            let (x, y) = xy(e);
            let d = (dequantize(x) - 20.0).hypot(dequantize(y) - 20.0);
            if d < 300.0 {
                near.0 += 1;
            } else if d > 900.0 {
                far.0 += 1;
            }
        }
        for e in m.snapshot() {
            let (x, y) = xy(e);
            let d = (dequantize(x) - 20.0).hypot(dequantize(y) - 20.0);
            if d < 300.0 {
                near.1 += 1;
            } else if d > 900.0 {
                far.1 += 1;
            }
        }
    }
    let rate = |(sent, seen): (u32, u32)| f64::from(sent) / f64::from(seen.max(1));
    assert!(rate(near) > 1.5 * rate(far), "near {near:?} far {far:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn replicas_always_equal_the_sent_views(
        seed in any::<u64>(),
        radius in prop_oneof![Just(0.0f32), Just(120.0), Just(250.0)],
        budget in prop_oneof![Just(None), Just(Some(128usize)), Just(Some(400))],
    ) {
        let clients = run_clients(seed, 10, 900, radius, budget, 90);
        prop_assert!(clients.iter().all(|c| c.replica.newest_tick().is_some()));
    }
}

#[test]
fn match_radius_query_equals_brute_force() {
    // With areas of interest on (the grid) and off (a scan).
    for view_radius in [150.0, 0.0] {
        let mut m = open_match(view_radius, 50, 1000, 2);
        let mut walk = Walk::new(50, 2, true);
        let mut found = Vec::new();
        for t in 0..60 {
            walk.push(&mut m);
            m.step();
            let c = [(t * 17 % 1000) as f32, (t * 31 % 1000) as f32];
            m.entities_within(c, 180.0, &mut found);
            let q = (quantize(c[0]), quantize(c[1]));
            let brute: Vec<usize> = (0..m.snapshot().len())
                .filter(|&i| within(&states(&m.snapshot()[i..=i])[0], q, 180.0))
                .collect();
            assert_eq!(found, brute);
        }
        assert!(
            m.snapshot()
                .iter()
                .any(|e| e.kind == kind_code(EntityKind::Projectile))
        );
    }
}
