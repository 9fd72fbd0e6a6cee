//! A stream of server messages, each decoded from fuzzer bytes, fed to a client's replica the
//! way an arena client does (bodies decoded with arena's schema): no panic, whatever the frames
//! claim (baselines it never had, stale ticks, unknown or duplicate entities, ages past the
//! tick).
//!
//! When a frame is applied, the new world must be exactly the baseline with the delta applied,
//! and its ticks must keep increasing.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use tickwire_proto::codec::decode_server;
use tickwire_proto::msg::ServerMsg;
use tickwire_arena::schema::arena_schema;
use tickwire_proto::schema::body;
use tickwire_proto::schema::rows::{RowReplica, RowWorld, apply};

/// Frames per input at most; enough to walk baselines back and forth.
const MAX_FRAMES: usize = 64;

fuzz_target!(|data: &[u8]| {
    let schema = arena_schema();
    let mut u = Unstructured::new(data);
    let mut replica = RowReplica::new(schema.clone());
    for _ in 0..MAX_FRAMES {
        let Ok(bytes) = <&[u8]>::arbitrary(&mut u) else {
            break;
        };
        let Ok(ServerMsg::State(frame)) = decode_server(bytes) else {
            continue;
        };
        let newest = replica.newest_tick();
        let (tick, age) = (frame.header.tick, frame.header.baseline_age);
        // What the replica should produce, computed independently of it. Arena's updates are
        // coded alike for every kind, so the body decodes without the baseline's kinds.
        let delta = body::decode(&schema, &frame.body, |_| Some(0)).ok();
        let expected: Option<RowWorld> = match age {
            0 => Some(RowWorld::new()),
            _ => tick
                .checked_sub(age)
                .and_then(|base| replica.world_at(base).cloned()),
        }
        .zip(delta)
        .filter(|_| newest.is_none_or(|n| tick > n))
        .and_then(|(base, delta)| {
            let mut world = apply(&schema, &base, &delta, age).ok()?;
            // Elided strings come from what the replica learnt before this frame.
            for id in &delta.strings_elided {
                let strings = replica.strings_of(*id)?;
                if let Some(e) = world.get_mut(id) {
                    e.strings = strings.into();
                }
            }
            Some(world)
        });
        match replica.apply_body(tick, age, &frame.body) {
            Ok(world) => {
                assert!(newest.is_none_or(|n| tick > n));
                assert_eq!(Some(world), expected.as_ref());
                assert_eq!(replica.newest_tick(), Some(tick));
            }
            Err(_) => assert_eq!(replica.newest_tick(), newest),
        }
    }
});
