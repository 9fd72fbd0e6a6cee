//! Start-up of the real binary with a hostile process environment: whatever other programs
//! left in the environment, the server starts; its own variables must be text.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::Command;

fn config_with_env(key: &OsStr, value: &OsStr) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args(["config", "--print"])
        .env_remove("RUST_LOG")
        .env(key, value)
        .output()
        .unwrap()
}

#[test]
fn a_stranger_non_utf8_variable_does_not_stop_start_up() {
    let out = config_with_env(
        OsStr::new("SOME_OTHER_TOOL"),
        OsStr::from_bytes(b"caf\xe9\xff"),
    );
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("tick_rate = 30"));
    // A non-UTF-8 *name* is skipped as well.
    let out = config_with_env(OsStr::from_bytes(b"\xffODD_NAME"), OsStr::new("1"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn our_non_utf8_variable_is_a_clear_error_not_a_panic() {
    let out = config_with_env(
        OsStr::new("TICKWIRE_GAME_TICK_RATE"),
        OsStr::from_bytes(b"6\xff0"),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("TICKWIRE_GAME_TICK_RATE"), "{err}");
    assert!(err.contains("UTF-8"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
