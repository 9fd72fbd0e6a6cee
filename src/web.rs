//! The browser game client's files, embedded in the binary, and the HTTP answers for them.
//!
//! Every file of `assets/web/` the page needs is compiled in with `include_bytes!`, so the
//! binary is self-contained: `cargo run --release` and `http://127.0.0.1:7777/` is a playable
//! match. Paths are looked up in a fixed table, so nothing outside it (no `..`, no other file
//! on disk) can ever be served. `/` is arena's page and the shared SDK (`/sdk/`); another game's
//! page is the files its [`crate::HostedGame::web_files`] embeds (soccer's: `assets/web/soccer/`),
//! served at `/<game>/`, looked up the same way.
//!
//! Caching: every answer carries `Cache-Control: no-cache` and a strong `ETag` (a hash of the
//! body), so a browser revalidates each load and gets a bodiless 304 while the file is
//! unchanged: a new server build is picked up at once, at the cost of one small request per
//! file.
//!
//! Besides the files, `GET /game.json` reports the physics constants the client's prediction
//! needs (the Welcome carries the map and tick rate, not the movement rules).

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tickwire_proto::schema::Schema;
use tickwire_sim::MatchConfig;

use crate::games::Games;

/// Content-Type of a page (an HTML answer also carries the [`CSP`]).
pub(crate) const HTML: &str = "text/html; charset=utf-8";
/// Content-Type of a style sheet.
pub(crate) const CSS: &str = "text/css; charset=utf-8";
/// Content-Type of a script (an ES module).
pub(crate) const JS: &str = "text/javascript; charset=utf-8";
const JSON: &str = "application/json";
/// TypeScript declarations of the client SDK (`assets/web/sdk/*.d.ts`).
const TS: &str = "application/typescript; charset=utf-8";
const MARKDOWN: &str = "text/markdown; charset=utf-8";

/// The page's Content-Security-Policy: only this origin's scripts, styles and sockets.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    /// URL path, starting with `/`.
    path: &'static str,
    /// Content-Type header.
    content_type: &'static str,
    /// The file.
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $ct:expr) => {
        Asset {
            path: $path,
            content_type: $ct,
            body: include_bytes!(concat!("../assets/web", $path)),
        }
    };
}

/// Every file the page loads. `screenshot.png` (for the README) is deliberately not served.
static ASSETS: &[Asset] = &[
    asset!("/index.html", HTML),
    asset!("/style.css", CSS),
    // Arena's page: its game layer on the SDK.
    asset!("/js/main.js", JS),
    asset!("/js/arena.js", JS),
    asset!("/js/predict.js", JS),
    asset!("/js/input.js", JS),
    asset!("/js/render.js", JS),
    asset!("/js/hud.js", JS),
    asset!("/js/chat.js", JS),
    asset!("/js/stick.js", JS),
    asset!("/js/viewport.js", JS),
    asset!("/js/page.js", JS),
    // The client SDK (@tickwire/sdk), served whole so a game's page can import it from here.
    asset!("/sdk/tickwire.js", JS),
    asset!("/sdk/wire.js", JS),
    asset!("/sdk/bits.js", JS),
    asset!("/sdk/schema.js", JS),
    asset!("/sdk/replica.js", JS),
    asset!("/sdk/interpolation.js", JS),
    asset!("/sdk/prediction.js", JS),
    asset!("/sdk/messages.js", JS),
    asset!("/sdk/connection.js", JS),
    asset!("/sdk/client.js", JS),
    asset!("/sdk/tickwire.d.ts", TS),
    asset!("/sdk/package.json", JSON),
    asset!("/sdk/README.md", MARKDOWN),
];

/// 64-bit FNV-1a, for ETags.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn etag(body: &[u8]) -> String {
    format!("\"{:016x}-{:x}\"", fnv1a(body), body.len())
}

/// The `/game.json` document of the game `name` (`None`: the default game): the rules the
/// client's prediction and HUD need, from the engine's `rules` and the game's own settings.
/// `None` for a game the server does not host.
pub fn game_json(games: &Games, name: Option<&str>, rules: &MatchConfig) -> Option<String> {
    Some(games.get(name)?.client_rules(rules).to_string())
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// True when an `If-None-Match` header names `tag` (or `*`).
fn not_modified<B>(req: &Request<B>, tag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == tag || t == "*")
}

fn file_response<B>(
    req: &Request<B>,
    content_type: &'static str,
    body: Bytes,
) -> Response<Full<Bytes>> {
    let tag = etag(&body);
    let len = body.len();
    let head = req.method() == Method::HEAD;
    let unchanged = not_modified(req, &tag);
    let mut resp = if unchanged || head {
        Response::new(Full::new(Bytes::new()))
    } else {
        Response::new(Full::new(body))
    };
    if unchanged {
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
    }
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if content_type == HTML {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    if head && !unchanged {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    resp
}

/// One schema's JSON: its hash (8 hex digits) and its declaration.
pub fn schema_entry(schema: &Schema) -> serde_json::Value {
    serde_json::json!({
        "hash": format!("{:08x}", schema.hash()),
        "schema": serde_json::to_value(schema.decl()).unwrap_or_default(),
    })
}

/// The hosted games' declared replication schemas as JSON (`GET /schema.json`, `tickwire
/// schema`): what a client decodes State frames with. `hash` and `schema` are the default
/// game's, and `games` has one entry per game by name.
pub fn schema_json(games: &Games) -> String {
    let mut doc = games
        .schema(None)
        .map_or_else(|| serde_json::json!({}), |schema| schema_entry(schema));
    let all: serde_json::Map<String, serde_json::Value> = games
        .schemas()
        .map(|s| (s.name().to_owned(), schema_entry(s)))
        .collect();
    doc["games"] = serde_json::Value::Object(all);
    doc.to_string()
}

/// Every hosted game's schema as the Markdown tables PROTOCOL.md includes (`tickwire schema
/// --markdown`), one section per game.
pub fn schema_markdown(games: &Games) -> String {
    games
        .schemas()
        .map(|s| s.markdown())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The value of the query parameter `game`, if the request has one.
fn game_param<B>(req: &Request<B>) -> Option<&str> {
    req.uri()
        .query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix("game="))
}

/// Answers one HTTP request that is not the WebSocket upgrade: the client's files at `/` (arena's
/// page, also reached as `/arena/`), a game's own page at `/<game>/`
/// ([`crate::HostedGame::web_files`]; `/<game>` redirects there),
/// `/game.json` (`?game=` names one, default the default game), `/schema.json`, 404 for
/// anything else (and for an unknown game), 405 for methods other than GET and HEAD.
pub fn serve<B>(req: &Request<B>, games: &Games, rules: &MatchConfig) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut resp = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return resp;
    }
    let path = match req.uri().path() {
        "/" => "/index.html",
        p => p,
    };
    if path == "/game.json" {
        return match game_json(games, game_param(req), rules) {
            Some(doc) => file_response(req, JSON, Bytes::from(doc)),
            None => plain(StatusCode::NOT_FOUND, "no such game\n"),
        };
    }
    if path == "/schema.json" {
        return file_response(req, JSON, Bytes::from(schema_json(games)));
    }
    if let Some(a) = ASSETS.iter().find(|a| a.path == path) {
        return file_response(req, a.content_type, Bytes::from_static(a.body));
    }
    let Some(rest) = path.strip_prefix('/') else {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    // A game's own page: `/<game>/` and `/<game>/<file>`, from the files it embeds.
    if let Some((name, file)) = rest.split_once('/') {
        if let Some(f) = games.web_file(name, file) {
            return file_response(req, f.content_type, Bytes::from_static(f.body));
        }
    }
    // `/<game>` without the slash: the page's relative URLs (`soccer.js`, `../sdk/`) need it.
    if !rest.contains('/') && games.web_file(rest, "").is_some() {
        return redirect(req, &format!("/{rest}/"));
    }
    // The page at `/` is arena's; by its game's name too, for a link that names every game.
    if rest.strip_suffix('/').unwrap_or(rest) == ROOT_GAME && games.get(Some(ROOT_GAME)).is_some() {
        return redirect(req, "/");
    }
    plain(StatusCode::NOT_FOUND, "not found\n")
}

/// The game the page at `/` plays (the [`ASSETS`]).
const ROOT_GAME: &str = "arena";

/// A 302 to `to` on this server, with the request's query string (`?name=`, `?spectate=`).
fn redirect<B>(req: &Request<B>, to: &str) -> Response<Full<Bytes>> {
    let target = match req.uri().query() {
        Some(q) => format!("{to}?{q}"),
        None => to.to_owned(),
    };
    let mut resp = plain(StatusCode::FOUND, "found\n");
    // A query is URI characters, so the header is valid; the bare path is the fallback.
    let location = HeaderValue::from_str(&target)
        .unwrap_or_else(|_| HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/")));
    resp.headers_mut().insert(header::LOCATION, location);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use tickwire_arena::ArenaConfig;

    fn games() -> Games {
        crate::games::builtin(&crate::Config::default()).unwrap()
    }

    fn get(method: Method, uri: &str) -> Response<Full<Bytes>> {
        let req = Request::builder().method(method).uri(uri).body(()).unwrap();
        serve(&req, &games(), &MatchConfig::default())
    }

    fn body(resp: Response<Full<Bytes>>) -> Bytes {
        let fut = resp.into_body().collect();
        match futures_block_on(fut) {
            Ok(collected) => collected.to_bytes(),
            Err(never) => match never {},
        }
    }

    /// `Full` is ready at once: poll it without a runtime.
    fn futures_block_on<F: Future>(fut: F) -> F::Output {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut fut = std::pin::pin!(fut);
        match fut.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("a Full body is always ready"),
        }
    }

    fn header_of(resp: &Response<Full<Bytes>>, name: header::HeaderName) -> &str {
        resp.headers().get(name).map_or("", |v| v.to_str().unwrap())
    }

    #[test]
    fn index_and_modules_have_their_types_and_cache_headers() {
        let resp = get(Method::GET, "/");
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(header_of(&resp, header::CONTENT_TYPE), HTML);
        assert_eq!(header_of(&resp, header::CACHE_CONTROL), "no-cache");
        assert!(header_of(&resp, header::ETAG).starts_with('"'));
        assert!(header_of(&resp, header::CONTENT_SECURITY_POLICY).contains("script-src 'self'"));
        let html = body(resp);
        assert!(std::str::from_utf8(&html).unwrap().contains("js/main.js"));
        for (path, ct) in [
            ("/js/arena.js", JS),
            ("/sdk/tickwire.js", JS),
            ("/sdk/tickwire.d.ts", TS),
            ("/sdk/package.json", JSON),
            ("/style.css", CSS),
            ("/index.html", HTML),
        ] {
            let resp = get(Method::GET, path);
            assert_eq!(resp.status(), StatusCode::OK, "{path}");
            assert_eq!(header_of(&resp, header::CONTENT_TYPE), ct, "{path}");
            assert_eq!(header_of(&resp, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        }
        // The query string does not matter.
        assert_eq!(get(Method::GET, "/?spectate=3").status(), StatusCode::OK);
    }

    #[test]
    fn unknown_paths_and_traversal_are_not_found() {
        for path in [
            "/nope",
            "/js/",
            "/js",
            "/../Cargo.toml",
            "/js/../../Cargo.toml",
            "/%2e%2e/Cargo.toml",
            "/js/..%2f..%2fCargo.toml",
            "//etc/passwd",
            "/screenshot.png",
            "/index.html/",
            "/INDEX.HTML",
        ] {
            let resp = get(Method::GET, path);
            assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        }
    }

    #[test]
    fn head_has_headers_but_no_body() {
        let full = get(Method::GET, "/sdk/tickwire.js");
        let tag = header_of(&full, header::ETAG).to_owned();
        let len = body(full).len();
        let head = get(Method::HEAD, "/sdk/tickwire.js");
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(header_of(&head, header::ETAG), tag);
        assert_eq!(
            header_of(&head, header::CONTENT_LENGTH),
            len.to_string().as_str()
        );
        assert!(body(head).is_empty());
    }

    #[test]
    fn matching_etag_gives_304() {
        let tag = header_of(&get(Method::GET, "/style.css"), header::ETAG).to_owned();
        for given in [
            tag.clone(),
            format!("W/{tag}"),
            format!("\"x\", {tag}"),
            "*".into(),
        ] {
            let req = Request::builder()
                .uri("/style.css")
                .header(header::IF_NONE_MATCH, given.as_str())
                .body(())
                .unwrap();
            let resp = serve(&req, &games(), &MatchConfig::default());
            assert_eq!(resp.status(), StatusCode::NOT_MODIFIED, "{given}");
            assert_eq!(header_of(&resp, header::ETAG), tag);
            assert!(body(resp).is_empty());
        }
        let req = Request::builder()
            .uri("/style.css")
            .header(header::IF_NONE_MATCH, "\"other\"")
            .body(())
            .unwrap();
        assert_eq!(
            serve(&req, &games(), &MatchConfig::default()).status(),
            StatusCode::OK
        );
    }

    #[test]
    fn other_methods_are_refused() {
        for m in [Method::POST, Method::PUT, Method::DELETE] {
            let resp = get(m, "/");
            assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
            assert_eq!(header_of(&resp, header::ALLOW), "GET, HEAD");
        }
    }

    #[test]
    fn game_json_reports_the_physics() {
        let resp = get(Method::GET, "/game.json");
        assert_eq!(header_of(&resp, header::CONTENT_TYPE), JSON);
        let v: serde_json::Value = serde_json::from_slice(&body(resp)).unwrap();
        let (g, a) = (MatchConfig::default(), ArenaConfig::default());
        assert_eq!(v["tick_rate"], u64::from(g.tick_rate));
        assert_eq!(v["player_radius"], f64::from(a.player_radius));
        assert_eq!(v["player_max_speed"], f64::from(a.player_max_speed));
        assert_eq!(v["player_friction"], f64::from(a.player_friction));
        assert_eq!(v["min_players"], u64::from(g.min_players));
        // Fractional values survive as the same f32.
        let mut config = crate::Config::default();
        config.arena.player_friction = 0.1;
        let odd = crate::games::builtin(&config).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&game_json(&odd, Some("arena"), &g).unwrap()).unwrap();
        assert_eq!(v["player_friction"].as_f64().unwrap() as f32, 0.1f32);
        assert!(game_json(&odd, Some("chess"), &g).is_none());
        assert_eq!(
            get(Method::GET, "/game.json?game=chess").status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn schema_json_is_the_declaration_and_its_hash() {
        let resp = get(Method::GET, "/schema.json");
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(header_of(&resp, header::CONTENT_TYPE), JSON);
        let v: serde_json::Value = serde_json::from_slice(&body(resp)).unwrap();
        let games = games();
        let schema = games.schema(None).unwrap();
        assert_eq!(v["hash"], format!("{:08x}", schema.hash()));
        // The served declaration is a valid schema, and the same one; each game has its entry.
        let back: Schema = serde_json::from_value(v["schema"].clone()).unwrap();
        assert_eq!(&back, &**schema);
        for s in games.schemas() {
            let entry = &v["games"][s.name()];
            assert_eq!(entry["hash"], format!("{:08x}", s.hash()));
            let back: Schema = serde_json::from_value(entry["schema"].clone()).unwrap();
            assert_eq!(&back, &**s);
        }
    }

    #[test]
    fn a_games_page_is_served_under_its_name() {
        let resp = get(Method::GET, "/soccer/");
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(header_of(&resp, header::CONTENT_TYPE), HTML);
        // Its page obeys the same policy: only this origin's scripts and styles.
        assert_eq!(header_of(&resp, header::CONTENT_SECURITY_POLICY), CSP);
        let html = String::from_utf8(body(resp).to_vec()).unwrap();
        assert!(html.contains("src=\"soccer.js\""), "{html}");
        assert!(
            html.contains("href=\"../style.css\""),
            "the shared style sheet"
        );
        assert!(
            !html.contains(" style=") && !html.contains("<script>"),
            "nothing inline"
        );
        for (path, ct) in [
            ("/soccer/index.html", HTML),
            ("/soccer/soccer.js", JS),
            ("/soccer/game.js", JS),
            ("/soccer/soccer.css", CSS),
        ] {
            let resp = get(Method::GET, path);
            assert_eq!(resp.status(), StatusCode::OK, "{path}");
            assert_eq!(header_of(&resp, header::CONTENT_TYPE), ct, "{path}");
            assert_eq!(header_of(&resp, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
            assert!(header_of(&resp, header::ETAG).starts_with('"'), "{path}");
        }
        let js = body(get(Method::GET, "/soccer/soccer.js"));
        assert!(
            std::str::from_utf8(&js)
                .unwrap()
                .contains("../sdk/tickwire.js")
        );
        // Only the files the game embeds; nothing of another game's or of the disk.
        for path in [
            "/soccer/nope.js",
            "/soccer/js/main.js",
            "/soccer/../Cargo.toml",
            "/soccer/%2e%2e/src/web.rs",
            "/soccer//soccer.js",
            "/soccer/SOCCER.JS",
            "/chess/",
            "/chess/index.html",
            "/arena/index.html",
        ] {
            assert_eq!(
                get(Method::GET, path).status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
        // Without the slash, and arena's page by its game's name, are redirects (query kept).
        for (from, to) in [
            ("/soccer", "/soccer/"),
            ("/soccer?name=ann", "/soccer/?name=ann"),
            ("/arena/", "/"),
            ("/arena?spectate=3", "/?spectate=3"),
        ] {
            let resp = get(Method::GET, from);
            assert_eq!(resp.status(), StatusCode::FOUND, "{from}");
            assert_eq!(header_of(&resp, header::LOCATION), to, "{from}");
        }
        // Arena's page links to soccer's, and back.
        let index = body(get(Method::GET, "/"));
        assert!(
            std::str::from_utf8(&index)
                .unwrap()
                .contains("href=\"soccer/\"")
        );
        assert!(html.contains("href=\"../\""));
    }

    #[test]
    fn every_client_file_is_embedded() {
        // A new file under assets/web must be added to ASSETS (or to its game's page), or the
        // page would 404 on it.
        let games = games();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/web");
        let mut stack = vec![root.clone()];
        let mut missing = Vec::new();
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let rel = format!(
                    "/{}",
                    path.strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/")
                );
                // A game's folder is its page ([`HostedGame::web_files`]), served at `/<game>/`.
                let in_game_page = rel
                    .strip_prefix('/')
                    .and_then(|r| r.split_once('/'))
                    .is_some_and(|(game, file)| games.web_file(game, file).is_some());
                if rel != "/screenshot.png"
                    && !in_game_page
                    && !ASSETS.iter().any(|a| a.path == rel)
                {
                    missing.push(rel);
                }
            }
        }
        assert!(
            missing.is_empty(),
            "not embedded in src/web.rs: {missing:?}"
        );
    }
}
