//! Any bytes into the client's decoder of server messages: no panic, and whatever it accepts
//! encodes again to a message that decodes to the same value. A State frame's body, which the
//! message decoder leaves to the game's schema, is decoded with arena's: no panic either, and
//! a body it accepts re-encodes to one that decodes to the same delta.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickwire_proto::codec::{decode_server, encode_server};
use tickwire_proto::msg::ServerMsg;
use tickwire_arena::schema::arena_schema;
use tickwire_proto::schema::body;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = decode_server(data) {
        let again = encode_server(&msg).expect("a decoded message encodes");
        assert_eq!(decode_server(&again).as_ref(), Ok(&msg));
        if let ServerMsg::State(frame) = &msg {
            let schema = arena_schema();
            // Arena's updates are coded alike for every kind: no baseline kinds needed.
            if let Ok(delta) = body::decode(&schema, &frame.body, |_| Some(0)) {
                let mut out = Vec::new();
                body::encode(&schema, &delta, |_| Some(0), &mut out)
                    .expect("a decoded body encodes");
                assert_eq!(body::decode(&schema, &out, |_| Some(0)), Ok(delta));
            }
        }
    }
});
