//! Every command in the README's `sh` blocks runs as written: `tickwire …` and `curl …` lines
//! here, against the real binary (on `PATH` as `tickwire`, in the repository root), and each
//! `cargo …` line must appear in `.ci/run`, which runs it. A README example that breaks fails
//! this test instead of a newcomer.
//!
//! Rules: lines joined at a trailing `\`; a `  #` comment is cut; a line ending in `&` starts
//! in the background (a `tickwire serve` is waited for on its port) and is stopped at the end of
//! its block; any other line must exit 0, or 3 when it carries `--fail-if` (the conditions
//! held: the command itself worked). The server's data directory is a temporary one.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a background server may take to listen.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(30);

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The logical command lines of every `sh` block, block by block.
fn sh_blocks(readme: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    let mut pending = String::new();
    for line in readme.lines() {
        let trimmed = line.trim_start();
        if let Some(fence) = trimmed.strip_prefix("```") {
            // A fence closes the open sh block, or opens one; other languages' blocks are
            // never opened, so their lines are skipped.
            if let Some(block) = current.take() {
                blocks.push(block);
            } else if fence.trim() == "sh" {
                current = Some(Vec::new());
            }
            continue;
        }
        let Some(block) = current.as_mut() else {
            continue;
        };
        let code = match line.find("  #") {
            Some(i) => &line[..i],
            None => line,
        };
        let code = code.trim();
        if code.is_empty() || code.starts_with('#') {
            continue;
        }
        if let Some(head) = code.strip_suffix('\\') {
            pending.push_str(head.trim_end());
            pending.push(' ');
            continue;
        }
        pending.push_str(code);
        block.push(std::mem::take(&mut pending));
    }
    blocks
}

fn port_open(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

struct Env {
    bin_dir: PathBuf,
    data_dir: PathBuf,
}

impl Env {
    fn bash(&self, line: &str) -> Command {
        let mut cmd = Command::new("bash");
        let path = format!(
            "{}:{}",
            self.bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.arg("-c")
            .arg(line)
            .current_dir(repo())
            .env("PATH", path)
            .env("TICKWIRE_SERVER_DATA_DIR", &self.data_dir)
            .env("RUST_LOG", "warn")
            .env_remove("CI");
        cmd
    }
}

fn stop(children: &mut Vec<(String, Child)>) {
    for (_, child) in children.iter_mut() {
        let _ = child.kill();
        let _ = child.wait();
    }
    children.clear();
    let deadline = Instant::now() + Duration::from_secs(10);
    while (port_open(7777) || port_open(7778)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn every_readme_command_runs_as_written() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let ci = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
    let blocks = sh_blocks(&readme);
    assert!(
        blocks.len() >= 3,
        "the README has its sh blocks: {blocks:?}"
    );
    let tmp =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("readme-{}", std::process::id()));
    let bin_dir = tmp.join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let link = bin_dir.join("tickwire");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_tickwire"), &link).unwrap();
    let env = Env {
        bin_dir,
        data_dir: tmp.join("data"),
    };
    assert!(
        !port_open(7777) && !port_open(7778),
        "the README's default ports 7777 and 7778 must be free for this test"
    );
    let mut ran = 0;
    for block in blocks {
        let mut background: Vec<(String, Child)> = Vec::new();
        for line in block {
            if line.starts_with("cargo ") {
                assert!(
                    ci.contains(&line),
                    "README command `{line}` is neither run here nor in .ci/run"
                );
                continue;
            }
            assert!(
                line.starts_with("tickwire ")
                    || line.starts_with("curl ")
                    || line.contains(" tickwire "),
                "README command `{line}`: only tickwire, curl and cargo commands are expected"
            );
            if let Some(cmd) = line.strip_suffix('&') {
                let child = env
                    .bash(&format!("exec {}", cmd.trim()))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                if cmd.contains("tickwire serve") {
                    let deadline = Instant::now() + LISTEN_TIMEOUT;
                    // Both listeners: the next line may talk to either.
                    while !(port_open(7777) && port_open(7778)) {
                        assert!(
                            Instant::now() < deadline,
                            "`{line}` listens on 7777 and 7778"
                        );
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
                background.push((line.clone(), child));
                continue;
            }
            let out = env.bash(&line).output().unwrap();
            let allowed: &[i32] = if line.contains("--fail-if") {
                &[0, 3]
            } else {
                &[0]
            };
            let code = out.status.code().unwrap_or(-1);
            if !allowed.contains(&code) {
                stop(&mut background);
                panic!(
                    "README command `{line}` exited {code}:\n{}\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            ran += 1;
        }
        stop(&mut background);
    }
    assert!(ran >= 5, "ran {ran} README commands");
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn sh_blocks_are_read_like_a_shell_would() {
    let md = "x\n```sh\na --b \\\n  c   # note\n# comment\nd &\n```\n```toml\nk = 1\n```\n```sh\ne\n```\n";
    assert_eq!(
        sh_blocks(md),
        vec![
            vec!["a --b c".to_owned(), "d &".to_owned()],
            vec!["e".to_owned()]
        ]
    );
}

#[test]
fn the_readme_lists_every_metric_family() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    for family in tickwire_net::metric::FAMILIES
        .iter()
        .chain(tickwire::telemetry::family::ALL)
        .chain(tickwire::telemetry::family::CLUSTER)
    {
        assert!(
            readme.contains(&format!("`{}", family.name)),
            "README.md's metrics table does not list {}",
            family.name
        );
    }
}
