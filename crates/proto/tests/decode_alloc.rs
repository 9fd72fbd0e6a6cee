//! What a decode may allocate: a 16 KiB input must never make the decoder hold more than
//! 1 MiB at once, whatever its length prefixes claim.
//!
//! The global allocator is dhat's, which counts every allocation and tracks the peak; a fresh
//! profiler per decode makes each measurement cover that decode alone. dhat allows a single
//! profiler at a time, so everything runs in one `#[test]`.

mod common;

use common::varint;
use tickwire_arena::schema::arena_schema;
use tickwire_proto::bits::BitWriter;
use tickwire_proto::codec::{decode_client, decode_server};
use tickwire_proto::schema::body;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Input size of every case, in bytes.
const INPUT_BYTES: usize = 16 * 1024;

/// Most a decode of [`INPUT_BYTES`] may hold at its peak, in bytes.
const PEAK_BOUND_BYTES: usize = 1024 * 1024;

/// A length prefix far beyond anything the input could hold: 2^60 elements.
const HUGE: u64 = 1 << 60;

/// Wire tags (variant indexes) of the messages used below.
const HELLO: u8 = 0;
const INPUT: u8 = 1;
const WELCOME: u8 = 0;
const REJECT: u8 = 1;
const STATE: u8 = 2;
const MATCH_ENDED: u8 = 5;

/// `prefix`, padded with bytes from `fill` to [`INPUT_BYTES`] in all.
fn input(prefix: &[u8], fill: impl FnMut() -> u8) -> Vec<u8> {
    let mut bytes = prefix.to_vec();
    bytes.resize_with(INPUT_BYTES, fill);
    bytes
}

/// Peak bytes held during `f`, counting only what it allocated.
fn peak_of(f: impl FnOnce()) -> usize {
    let _profiler = dhat::Profiler::builder()
        .testing()
        .trim_backtraces(Some(4))
        .build();
    f();
    dhat::HeapStats::get().max_bytes
}

/// Tiny deterministic generator for the random padding (SplitMix64).
struct Rng(u64);

impl Rng {
    fn byte(&mut self) -> u8 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) as u8
    }
}

/// Message heads that end right before a length prefix, for each list or string a message has.
fn heads() -> Vec<(&'static str, bool, Vec<u8>)> {
    // (name, is_client, bytes up to the length prefix)
    let mut cases = vec![
        ("Hello.game", true, vec![HELLO, 1, 1]),
        // Version 1, no game, no schema hash.
        ("Hello.name", true, vec![HELLO, 1, 0, 0]),
        ("Input.payload", true, vec![INPUT, 0, 0]), // seq, ack
        ("Welcome.game", false, vec![WELCOME, 0]),
    ];
    let mut welcome = vec![WELCOME];
    welcome.extend_from_slice(&[0; 3]); // version, empty game name, schema hash
    welcome.extend_from_slice(&[0; 5]); // ids, match, tick rate, tick
    welcome.extend_from_slice(&[0; 18]); // session: match, player, 16-byte secret
    welcome.push(0); // resumed
    cases.push(("Welcome.map.name", false, welcome.clone()));
    welcome.extend_from_slice(&[0, 0, 0]); // empty map name, width, height
    cases.push(("Welcome.map.walls", false, welcome));
    cases.push(("Reject.message", false, vec![REJECT, 0]));
    let state = vec![STATE, 0, 0, 0, 0, 0]; // header: tick, age, last input, phase, ticks left
    cases.push(("State.delta", false, state));
    cases.push(("MatchEnded.players", false, vec![MATCH_ENDED, 0, 0, 0]));
    cases
}

fn decode(is_client: bool, bytes: &[u8]) -> bool {
    if is_client {
        decode_client(bytes).is_ok()
    } else {
        decode_server(bytes).is_ok()
    }
}

#[test]
fn a_16_kib_input_never_holds_more_than_1_mib() {
    let mut worst = (0, String::new());
    let mut check = |name: String, is_client: bool, bytes: Vec<u8>| {
        let mut accepted = false;
        let peak = peak_of(|| accepted = decode(is_client, &bytes));
        assert!(
            peak < PEAK_BOUND_BYTES,
            "{name}: decoding {} bytes peaked at {peak} bytes",
            bytes.len()
        );
        if peak > worst.0 {
            worst = (peak, name);
        }
        accepted
    };

    for (name, is_client, head) in heads() {
        // A length claim of 2^60 with nothing, zeros, or noise behind it.
        let mut claim = head.clone();
        varint(&mut claim, HUGE);
        assert!(!check(
            format!("{name}: 2^60, empty"),
            is_client,
            claim.clone()
        ));
        assert!(!check(
            format!("{name}: 2^60, zeros"),
            is_client,
            input(&claim, || 0)
        ));
        let mut rng = Rng(name.len() as u64);
        assert!(!check(
            format!("{name}: 2^60, noise"),
            is_client,
            input(&claim, || rng.byte())
        ));
        // Claims just past what the input holds, and as much as it could hold.
        for claim_len in [
            INPUT_BYTES as u64,
            u64::from(u32::MAX),
            (INPUT_BYTES / 2) as u64,
        ] {
            let mut claim = head.clone();
            varint(&mut claim, claim_len);
            check(
                format!("{name}: {claim_len}, zeros"),
                is_client,
                input(&claim, || 0),
            );
        }
    }

    // The densest valid content: the most entries a 16 KiB packed delta can hold, so the
    // decoder really builds tens of thousands of them.
    for (name, min_bits, entry) in [
        (
            "removed",
            1,
            &(|w: &mut BitWriter<'_>| w.eg(0, 0)) as &dyn Fn(&mut BitWriter<'_>),
        ),
        ("created", 41, &|w: &mut BitWriter<'_>| {
            w.eg(0, 0); // id gap: the next id
            w.eg(0, 0); // Player
            w.eg_signed(0, 0); // x
            w.eg_signed(0, 0); // y
            w.eg_signed(4, 0); // vx
            w.eg_signed(4, 0); // vy
            w.bits(0, 16); // aim, hp
            w.eg(0, 0); // score
            w.bits(0, 8); // flags
            w.eg(0, 0); // owner
            w.eg(0, 0); // name left out
        }),
        ("updated", 6, &|w: &mut BitWriter<'_>| {
            w.eg(0, 0); // the next baseline index
            w.bit(true); // mask POS
            w.eg_signed(0, 0);
            w.eg_signed(0, -1);
        }),
    ] {
        let n = (INPUT_BYTES - 16) * 8 / min_bits;
        let mut body = Vec::new();
        let mut w = BitWriter::new(&mut body);
        w.bits(0, 16); // orders
        for list in ["removed", "created", "updated"] {
            if list == name {
                w.eg(0, n as u32);
                for _ in 0..n {
                    entry(&mut w);
                }
            } else {
                w.eg(0, 0);
            }
        }
        w.finish();
        let mut state = vec![STATE, 0, 0, 0, 0, 0];
        varint(&mut state, body.len() as u64);
        state.extend_from_slice(&body);
        assert!(state.len() <= INPUT_BYTES, "{name}: {}", state.len());
        assert!(check(format!("State.{name}, dense"), false, state));
        // The same body through arena's schema, which builds generic rows.
        let schema = arena_schema();
        let mut accepted = false;
        let peak = peak_of(|| accepted = body::decode(&schema, &body, |_| Some(0)).is_ok());
        assert!(accepted, "schema {name}, dense");
        assert!(
            peak < PEAK_BOUND_BYTES,
            "schema {name}, dense: decoding {} bytes peaked at {peak} bytes",
            body.len()
        );
        println!("schema {name}, dense: peak {peak} bytes");
    }

    // Pure noise behind every message tag.
    for tag in 0..8u8 {
        let mut rng = Rng(u64::from(tag) << 32);
        for round in 0..25 {
            check(
                format!("tag {tag}, noise {round}"),
                false,
                input(&[tag], || rng.byte()),
            );
            check(
                format!("client tag {tag}, noise {round}"),
                true,
                input(&[tag], || rng.byte()),
            );
        }
    }
    println!("worst peak: {} bytes ({})", worst.0, worst.1);
}
