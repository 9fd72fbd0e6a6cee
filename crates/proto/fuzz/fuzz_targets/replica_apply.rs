//! A stream of server messages, each decoded from fuzzer bytes, fed to a client's replica the
//! way a client does: no panic, whatever the frames claim (baselines it never had, stale ticks,
//! unknown or duplicate entities, ages past the tick).
//!
//! When a frame is applied, the new world must be exactly the baseline with the delta applied,
//! and its ticks must keep increasing.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use tickwire_proto::codec::decode_server;
use tickwire_proto::delta::{Replica, World, apply};
use tickwire_proto::msg::ServerMsg;

/// Frames per input at most; enough to walk baselines back and forth.
const MAX_FRAMES: usize = 64;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut replica = Replica::new();
    for _ in 0..MAX_FRAMES {
        let Ok(bytes) = <&[u8]>::arbitrary(&mut u) else {
            break;
        };
        let Ok(ServerMsg::State(frame)) = decode_server(bytes) else {
            continue;
        };
        let newest = replica.newest_tick();
        let age = frame.header.baseline_age;
        // What the replica should produce, computed independently of it.
        let expected: Option<World> = match age {
            0 => Some(World::new()),
            _ => frame
                .header
                .tick
                .checked_sub(age)
                .and_then(|base| replica.world_at(base).cloned()),
        }
        .and_then(|base| apply(&base, &frame.delta, age).ok())
        .and_then(|mut world| {
            // Elided names come from what the replica learnt before this frame.
            for id in &frame.delta.names_elided {
                let name = replica.name_of(*id)?;
                if let Some(e) = world.get_mut(id) {
                    e.name = name.to_owned();
                }
            }
            Some(world)
        });
        match replica.apply(&frame) {
            Ok(world) => {
                assert!(newest.is_none_or(|n| frame.header.tick > n));
                assert_eq!(Some(world), expected.as_ref());
                assert_eq!(replica.newest_tick(), Some(frame.header.tick));
            }
            Err(_) => assert_eq!(replica.newest_tick(), newest),
        }
    }
});
