//! The engine with a game that is not arena, on the engine's public API only: a schema of its
//! own (kinds whose updates are coded differently, so the encoder needs the baseline's kinds;
//! an enum; a kind without a position), replicated through `ClientView` to clients behind a
//! lossy, reordering link that rebuild every view exactly from the encoded bodies.

use std::sync::Arc;

use proptest::prelude::*;
use tickwire_proto::schema::body;
use tickwire_proto::schema::rows::{EntityRow, RowReplica};
use tickwire_proto::schema::{Field, FieldKind, IntCoding, KindDecl, Schema, SchemaDecl};
use tickwire_sim::{
    ClientView, FrameScratch, Game, GameInput, Match, MatchConfig, PlayerId, SnapshotWriter,
    SplitMix64, StepCtx, WorldBounds,
};

/// Dots' input: nothing (dots drift on their own).
#[derive(Clone, Copy, Debug, Default)]
struct Idle;

impl GameInput for Idle {}

/// Kind codes of the dots schema.
const DOT: u16 = 0;
const BOARD: u16 = 1;

/// A dot: `(entity, x, y, vx, vy, colour, strings)`; positions in eighths.
type Dot = (u32, i64, i64, i64, i64, i64, Arc<[String]>);

/// A frame in flight: `(arrival tick, tick, baseline age, body, the view the server recorded)`.
type InFlight = (u32, u32, u32, Vec<u8>, Vec<EntityRow>);

/// One drifting dot per player, bouncing off the edges, and one scoreboard without a position
/// that counts the ticks.
struct Dots {
    rng: SplitMix64,
    /// Ascending entity.
    dots: Vec<Dot>,
    /// The board's entity id, once it exists.
    board: Option<u32>,
    /// The board's counter.
    count: i64,
    /// The board's label.
    label: Arc<[String]>,
}

/// The side of the square world, world units.
const SIDE: i64 = 1000;

impl Game for Dots {
    type Input = Idle;
    type Event = ();
    type Results = ();
    type Request = tickwire_sim::NoRequest;

    fn decode_input(payload: &[u8]) -> Option<Idle> {
        payload.is_empty().then_some(Idle)
    }

    fn schema() -> Schema {
        let pos = FieldKind::Pos { scale: 8 };
        let vel = |of: &str| FieldKind::Vel {
            of: of.into(),
            create_order: 2,
        };
        Schema::new(SchemaDecl {
            name: "dots".into(),
            groups: vec!["MOVE".into(), "LOOK".into(), "COUNT".into()],
            short_masks: vec![vec!["MOVE".into()]],
            kinds: vec![
                KindDecl {
                    name: "Dot".into(),
                    fields: vec![
                        Field::new("x", pos.clone(), "MOVE"),
                        Field::new("y", pos, "MOVE"),
                        Field::new("vx", vel("x"), "MOVE"),
                        Field::new("vy", vel("y"), "MOVE"),
                        Field::new("colour", FieldKind::Enum { values: 5 }, "LOOK"),
                        Field::identity("name", FieldKind::Str { max_bytes: 16 }),
                    ],
                },
                KindDecl {
                    name: "Board".into(),
                    fields: vec![
                        Field::new(
                            "count",
                            FieldKind::UInt {
                                coding: IntCoding::ExpGolomb(4),
                            },
                            "COUNT",
                        ),
                        Field::identity("label", FieldKind::Str { max_bytes: 16 }),
                    ],
                },
            ],
        })
        .expect("the dots schema is valid")
    }

    fn world(&self) -> WorldBounds {
        WorldBounds {
            width: SIDE as u32,
            height: SIDE as u32,
            cell_size: 100,
        }
    }

    fn join(&mut self, _: PlayerId, entity: u32, name: &str) {
        let r = self.rng.next_u64();
        let at = |b: u64| (b % (SIDE as u64 * 8)) as i64;
        let v = |b: u64| (b % 41) as i64 - 20;
        self.dots.push((
            entity,
            at(r),
            at(r >> 20),
            v(r >> 40),
            v(r >> 48),
            (r >> 56) as i64 % 5,
            Arc::from([name.to_owned()]),
        ));
    }

    fn leave(&mut self, _: PlayerId) {
        // Dots outlive their players in this game; the engine's seat goes, the entity stays.
    }

    fn step(&mut self, ctx: &mut StepCtx<'_, Self>) {
        if self.board.is_none() {
            self.board = ctx.new_entity();
        }
        self.count += 1;
        for d in &mut self.dots {
            let r = self.rng.next_u64();
            if r % 16 == 0 {
                d.3 = (r >> 8) as i64 % 41 - 20;
                d.4 = (r >> 16) as i64 % 41 - 20;
            }
            if r % 64 == 1 {
                d.5 = (d.5 + 1) % 5;
            }
            d.1 += d.3;
            d.2 += d.4;
            if !(0..=SIDE * 8).contains(&d.1) {
                d.3 = -d.3;
                d.1 = d.1.clamp(0, SIDE * 8);
            }
            if !(0..=SIDE * 8).contains(&d.2) {
                d.4 = -d.4;
                d.2 = d.2.clamp(0, SIDE * 8);
            }
        }
    }

    fn start(&mut self) {}

    fn snapshot(&self, out: &mut SnapshotWriter<'_>) {
        let mut board = self.board;
        for d in &self.dots {
            if let Some(b) = board.filter(|&b| b < d.0) {
                out.push(b, BOARD, &[self.count], &self.label);
                board = None;
            }
            out.push(d.0, DOT, &[d.1, d.2, d.3, d.4, d.5], &d.6);
        }
        if let Some(b) = board {
            out.push(b, BOARD, &[self.count], &self.label);
        }
    }

    fn results(&self) {}
}

/// A match of `players` dots with areas of interest of `radius` world units.
fn dots(players: usize, radius: f32, seed: u64) -> Match<Dots> {
    let config = MatchConfig {
        max_players: players as u16,
        min_players: 1,
        view_radius: radius,
        ..MatchConfig::default()
    };
    let game = Dots {
        rng: SplitMix64::new(seed),
        dots: Vec::new(),
        board: None,
        count: 0,
        label: Arc::from(["scores".to_owned()]),
    };
    let mut m = Match::new(config, game).expect("valid config");
    for i in 0..players {
        m.add_player(&format!("dot{i}")).expect("a seat");
    }
    m
}

/// One client: its view on the server, its replica, frames and acks in flight.
struct Client {
    viewer: Option<PlayerId>,
    view: ClientView,
    replica: RowReplica,
    /// Frames on their way.
    frames: Vec<InFlight>,
    acks: Vec<(u32, u32)>,
    ack: u32,
}

/// Runs `ticks` ticks of a dots match with one client per player and an unfocused spectator,
/// checking every replica against the view it was sent; returns how many frames applied.
fn run(seed: u64, players: usize, radius: f32, budget: Option<usize>, ticks: u32) -> usize {
    let mut m = dots(players, radius, seed);
    let schema = Arc::clone(m.schema());
    let mut clients: Vec<Client> = (1..=players as u32)
        .map(Some)
        .chain([None])
        .map(|viewer| Client {
            viewer,
            view: ClientView::new(),
            replica: RowReplica::new((*schema).clone()),
            frames: Vec::new(),
            acks: Vec::new(),
            ack: 0,
        })
        .collect();
    let mut rng = SplitMix64::new(seed ^ 0xd075);
    let mut scratch = FrameScratch::default();
    let mut out = Default::default();
    let mut applied = 0;
    for _ in 0..ticks {
        m.step();
        let tick = m.tick();
        for c in &mut clients {
            c.acks.sort_by_key(|a| a.0);
            while c.acks.first().is_some_and(|a| a.0 <= tick) {
                c.ack = c.acks.remove(0).1;
            }
            let age = c
                .view
                .frame(&m, c.viewer, c.ack, budget, &mut scratch, &mut out);
            let mut bytes = Vec::new();
            body::encode(&schema, &out, |i| c.view.baseline_kind(&m, i), &mut bytes)
                .expect("the engine's delta encodes");
            let sent = c.view.sent_view(tick, &m).expect("this tick's view");
            if radius > 0.0 && c.viewer.is_some() {
                assert!(
                    sent.iter().any(|e| e.kind == BOARD) || tick == 1,
                    "the board has no position, so every client sees it"
                );
            }
            let r = rng.next_u64();
            if r % 5 != 0 {
                c.frames
                    .push((tick + (r >> 8) as u32 % 3, tick, age, bytes, sent));
            }
            c.frames.sort_by_key(|f| f.1);
            let mut i = 0;
            while i < c.frames.len() {
                if c.frames[i].0 > tick {
                    i += 1;
                    continue;
                }
                let (_, t, age, bytes, sent) = c.frames.remove(i);
                if c.replica.newest_tick().is_some_and(|n| t <= n) {
                    continue;
                }
                let world = c.replica.apply_body(t, age, &bytes).expect("frame applies");
                let world: Vec<EntityRow> = world.values().cloned().collect();
                assert_eq!(world, sent, "replica = sent view at tick {t}");
                applied += 1;
                if r >> 40 & 7 != 0 {
                    c.acks.push((tick + (r >> 32) as u32 % 4, t));
                }
            }
        }
    }
    applied
}

#[test]
fn a_board_without_a_position_is_relevant_everywhere() {
    let mut m = dots(20, 50.0, 3);
    m.step();
    m.step();
    let mut view = ClientView::new();
    let mut out = Default::default();
    view.frame(&m, Some(1), 0, None, &mut FrameScratch::default(), &mut out);
    let sent = view.sent_view(m.tick(), &m).unwrap();
    assert!(sent.iter().any(|e| e.kind == BOARD));
    assert!(sent.len() < 21, "a 50-unit radius leaves most dots out");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn replicas_of_another_game_equal_the_sent_views(
        seed in any::<u64>(),
        radius in prop_oneof![Just(0.0f32), Just(150.0), Just(400.0)],
        budget in prop_oneof![Just(None), Just(Some(128usize)), Just(Some(600))],
    ) {
        let applied = run(seed, 12, radius, budget, 80);
        prop_assert!(applied > 12 * 30, "{applied}");
    }
}
