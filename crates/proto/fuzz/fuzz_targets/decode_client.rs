//! Any bytes into the server's decoder of client messages: no panic, and whatever it accepts
//! encodes again to a message that decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickwire_proto::codec::{decode_client, encode_client};

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = decode_client(data) {
        let again = encode_client(&msg).expect("a decoded message encodes");
        assert_eq!(decode_client(&again).as_ref(), Ok(&msg));
    }
});
