//! Protocol version 3 over real sockets: a Hello names its game and the schema hash it was built
//! for, the server refuses an unknown game or a mismatched schema with a Reject that says what
//! it has, and a Welcome reports the game and hash joined (the hash `/schema.json` serves).

mod common;

use std::time::Duration;

use common::{TestServer, fast_config, http, json};
use tickwire_arena::schema as arena;
use tickwire_client::{ClientError, GameClient, hello};
use tickwire_net::client::{self, ClientConfig, ClientEvent};
use tickwire_proto::codec;
use tickwire_proto::msg::{Hello, RejectReason, ServerMsg};

const WAIT: Duration = Duration::from_secs(3);

/// Connects with `hello` and returns the Reject's reason and message; panics on a Welcome.
async fn refused(url: &str, hello: Hello) -> (RejectReason, String) {
    match GameClient::connect(url, hello).await {
        Err(ClientError::Rejected { reason, message }) => (reason, message),
        Err(e) => panic!("expected a Reject, got {e}"),
        Ok(c) => panic!("expected a Reject, got a Welcome {:?}", c.welcome()),
    }
}

/// The hash `/schema.json` serves, as a number.
async fn served_hash(server: &TestServer) -> u32 {
    let (status, body) = http(
        "GET",
        &format!("http://{}/schema.json", server.addr),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let hex = json(&body)["hash"].as_str().expect("hash").to_owned();
    u32::from_str_radix(&hex, 16).expect("8 hex digits")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hello_names_its_game_and_schema_and_the_welcome_reports_them() {
    let server = TestServer::start(fast_config()).await;
    let url = server.url();
    let hash = served_hash(&server).await;
    assert_eq!(hash, arena::schema_hash(), "the served hash is arena's");

    // The right game and hash join, and the Welcome says what was joined.
    let named = GameClient::connect(&url, hello("named")).await.unwrap();
    assert_eq!(named.welcome().game, "arena");
    assert_eq!(named.welcome().schema_hash, hash);
    assert_eq!((named.game(), named.schema_hash()), ("arena", hash));

    // Neither named: the default game, no check; the Welcome still reports both.
    let bare = Hello {
        game: None,
        schema_hash: None,
        ..hello("bare")
    };
    let bare = GameClient::connect(&url, bare).await.unwrap();
    assert_eq!((bare.game(), bare.schema_hash()), ("arena", hash));
    assert_eq!(bare.welcome().match_id, named.welcome().match_id);

    // A game named without a hash, and a hash without a game, join too.
    for (game, schema_hash) in [(Some("arena"), None), (None, Some(hash))] {
        let h = Hello {
            game: game.map(str::to_owned),
            schema_hash,
            ..hello("half")
        };
        let c = GameClient::connect(&url, h).await.unwrap();
        assert_eq!((c.game(), c.schema_hash()), ("arena", hash));
    }

    // An unknown game: UnknownGame, and the message names the game asked for and the one
    // hosted.
    let (reason, message) = refused(
        &url,
        Hello {
            game: Some("chess".into()),
            ..hello("lost")
        },
    )
    .await;
    assert_eq!(reason, RejectReason::UnknownGame);
    assert_eq!(
        message,
        "unknown game \"chess\": this server hosts arena, soccer"
    );

    // A stale schema: SchemaMismatch, with the server's hash and the client's.
    let (reason, message) = refused(
        &url,
        Hello {
            schema_hash: Some(0),
            ..hello("stale")
        },
    )
    .await;
    assert_eq!(reason, RejectReason::SchemaMismatch);
    assert_eq!(
        message,
        format!("schema mismatch: server's arena schema is {hash:08x}, client built for 00000000")
    );
    // Also without naming the game (the default game's schema is compared).
    let (reason, _) = refused(
        &url,
        Hello {
            game: None,
            schema_hash: Some(hash ^ 1),
            ..hello("stale")
        },
    )
    .await;
    assert_eq!(reason, RejectReason::SchemaMismatch);

    drop((named, bare));
    server.stop().await;
}

/// The reason and close code the server answers `bytes` (one first message) with.
async fn first_message_answer(url: &str, bytes: &[u8]) -> (Option<ServerMsg>, u16) {
    let mut ws = client::connect(url, &ClientConfig::default())
        .await
        .unwrap();
    ws.send_binary(bytes).await.unwrap();
    tokio::time::timeout(WAIT, async {
        let mut msg = None;
        loop {
            match ws.recv().await {
                Ok(ClientEvent::Binary(b)) => msg = Some(codec::decode_server(&b).unwrap()),
                Ok(ClientEvent::Close { code, .. }) => return (msg, code),
                Ok(_) => {}
                Err(e) => panic!("connection ended without a close frame: {e}"),
            }
        }
    })
    .await
    .expect("server answered in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_and_malformed_hellos_are_answered_by_their_version_or_a_decode_error() {
    let server = TestServer::start(fast_config()).await;
    let url = server.url();

    // A version 2 Hello ("ann", no session, Any) has no game and no hash, so it does not decode
    // as version 3's; the server still answers it with a version mismatch, not a 1007.
    let (msg, code) = first_message_answer(&url, &[0, 2, 3, b'a', b'n', b'n', 0, 0]).await;
    let Some(ServerMsg::Reject(r)) = msg else {
        panic!("expected a Reject, got {msg:?}");
    };
    assert_eq!(r.reason, RejectReason::VersionMismatch);
    assert_eq!(
        r.message,
        "protocol version mismatch: server speaks 3, client sent 2"
    );
    assert_eq!(code, 1002);

    // A version 3 Hello whose game name is over the 32-byte bound does not decode: 1007.
    let mut long = Hello {
        game: Some("g".repeat(33)),
        ..hello("long")
    };
    let bytes = codec::encode_client(&tickwire_proto::msg::ClientMsg::Hello(long.clone())).unwrap();
    let (msg, code) = first_message_answer(&url, &bytes).await;
    assert_eq!((msg, code), (None, 1007));
    // At the bound it decodes, and is refused for naming an unknown game.
    long.game = Some("g".repeat(32));
    let bytes = codec::encode_client(&tickwire_proto::msg::ClientMsg::Hello(long)).unwrap();
    let (msg, code) = first_message_answer(&url, &bytes).await;
    let Some(ServerMsg::Reject(r)) = msg else {
        panic!("expected a Reject, got {msg:?}");
    };
    assert_eq!((r.reason, code), (RejectReason::UnknownGame, 4001));
    server.stop().await;
}
