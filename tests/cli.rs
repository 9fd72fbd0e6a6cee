//! The command line of the real binary: flags where they belong, and settings that follow
//! each other.

use std::process::{Command, Output};

fn tickwire(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

#[test]
fn any_allowed_tick_rate_works_alone() {
    for rate in ["1", "64", "120", "240"] {
        let out = tickwire(&["config", "--print", "--tick-rate", rate]);
        assert!(
            out.status.success(),
            "--tick-rate {rate}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed: toml::Table = toml::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap();
        assert_eq!(printed["game"]["tick_rate"].as_integer(), rate.parse().ok());
    }
}

#[test]
fn server_flags_are_refused_where_they_do_nothing() {
    let out = tickwire(&["--addr", "127.0.0.1:0", "replay", "some.bin"]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let out = tickwire(&["replay", "--tick-rate", "60", "some.bin"]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let help = String::from_utf8_lossy(&tickwire(&["replay", "--help"]).stdout).into_owned();
    assert!(
        !help.contains("--tick-rate") && !help.contains("--data-dir"),
        "{help}"
    );
}

#[test]
fn logs_go_to_stderr_without_colour_when_not_a_terminal() {
    use std::io::{BufRead, BufReader, Read};
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args(["serve", "--addr", "127.0.0.1:0", "--admin-addr", ""])
        .arg("--data-dir")
        .arg(std::env::temp_dir().join(format!("tickwire-cli-{}", std::process::id())))
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let listening = loop {
        line.clear();
        if stderr.read_line(&mut line).unwrap() == 0 {
            break None;
        }
        if line.contains("tickwire listening") {
            break Some(line.clone());
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let listening = listening.expect("the INFO line arrives on stderr");
    assert!(
        !listening.contains('\u{1b}'),
        "no ANSI colour in a pipe: {listening:?}"
    );
    assert!(stdout.is_empty(), "nothing on stdout: {stdout}");
}

#[test]
fn config_errors_cite_the_users_own_file_and_line() {
    let dir = std::env::temp_dir().join(format!("tickwire-cli-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (text, line, what) in [
        ("[server]\nmax_matches = \"many\"\n", 2, "invalid type"),
        (
            "# mine\n\n[game]\ntick_rate = 30\nbogus = 1\n",
            5,
            "unknown field `bogus`",
        ),
        (
            "[net]\nheartbeat_interval_ms = -5\n",
            2,
            "heartbeat_interval_ms",
        ),
    ] {
        let file = dir.join("server.toml");
        std::fs::write(&file, text).unwrap();
        let out = tickwire(&["config", "--config", file.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(file.to_str().unwrap()),
            "names the file: {err}"
        );
        assert!(
            err.contains(&format!("line {line},")),
            "cites line {line}: {err}"
        );
        assert!(err.contains(what), "{err}");
    }
}

#[test]
fn schema_prints_the_declaration_as_json_and_markdown() {
    let json = tickwire(&["schema"]);
    assert!(json.status.success());
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let schema = tickwire_arena::schema::arena_schema();
    assert_eq!(v["hash"], format!("{:08x}", schema.hash()));
    let md = tickwire(&["schema", "--game", "arena", "--markdown"]);
    assert!(md.status.success());
    assert_eq!(String::from_utf8(md.stdout).unwrap(), schema.markdown());
    // Every hosted game has its entry and its section.
    let soccer = <tickwire_soccer::Soccer as tickwire_sim::Game>::schema();
    assert_eq!(
        v["games"]["soccer"]["hash"],
        format!("{:08x}", soccer.hash())
    );
    let all = tickwire(&["schema", "--markdown"]);
    let all = String::from_utf8(all.stdout).unwrap();
    assert!(all.contains(&schema.markdown()) && all.contains(&soccer.markdown()));
    let one = tickwire(&["schema", "--game", "soccer"]);
    let one: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_eq!(one["hash"], format!("{:08x}", soccer.hash()));
    let bad = tickwire(&["schema", "--game", "chess"]);
    assert_eq!(bad.status.code(), Some(1));
}
