//! Any bytes into the client's decoder of server messages: no panic, and whatever it accepts
//! encodes again to a message that decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickwire_proto::codec::{decode_server, encode_server};

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = decode_server(data) {
        let again = encode_server(&msg).expect("a decoded message encodes");
        assert_eq!(decode_server(&again).as_ref(), Ok(&msg));
    }
});
