//! The `kmsedge` binary under test: a command for it, and runs to
//! completion bounded by [`LIMIT`], with stdout and stderr captured.
//!
//! Every child starts without `RUST_LOG` and `KMSEDGE_ADMIN_TOKEN`, so what
//! the tests see does not depend on the environment they are run from (a
//! test that wants either sets it on the command).
use serde_json::Value;
use std::io::{Read, Write};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_kmsedge");

/// Longest a test waits for a process to finish, start or stop.
pub const LIMIT: Duration = Duration::from_secs(30);

/// `kmsedge` with a clean environment; stdio as the caller sets it.
pub fn command() -> Command {
    let mut c = Command::new(BIN);
    c.env_remove("RUST_LOG").env_remove("KMSEDGE_ADMIN_TOKEN");
    c
}

/// Runs `kmsedge ARGS` to completion (stdin empty) → its output. Panics if
/// it has not exited within [`LIMIT`].
pub fn run(args: &[&str]) -> Output {
    run_with(args, None)
}

/// Like [`run`], with `input` written to its stdin.
pub fn run_with_input(args: &[&str], input: &[u8]) -> Output {
    run_with(args, Some(input))
}

fn run_with(args: &[&str], input: Option<&[u8]>) -> Output {
    let mut child = command()
        .args(args)
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kmsedge");
    if let Some(input) = input {
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        // A thread, so a child that does not read its stdin cannot block the test.
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    // Read both pipes while waiting: a child writing more than a pipe holds
    // would otherwise never exit.
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let status = wait_bounded(&mut child, LIMIT).unwrap_or_else(|| panic!("kmsedge {args:?} did not finish within {LIMIT:?}"));
    Output { status, stdout: stdout.join().unwrap(), stderr: stderr.join().unwrap() }
}

fn drain(mut r: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        v
    })
}

/// Waits up to `limit` for `child` to exit; kills it (and returns None) if
/// it has not.
pub fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let end = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit code 0 and JSON on stdout.
pub fn json_ok(args: &[&str]) -> Value {
    let o = run(args);
    assert!(o.status.success(), "{args:?} failed: {}\n{}", stderr(&o), stdout(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{args:?}: bad JSON {e}: {}", stdout(&o)))
}

/// Exit code 1 and exactly one line on stderr, `kmsedge: …`; returns it.
pub fn one_line_error(args: &[&str]) -> String {
    let o = run(args);
    assert_eq!(o.status.code(), Some(1), "{args:?} should fail: {}{}", stdout(&o), stderr(&o));
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{args:?}: expected one line, got {err:?}");
    assert!(lines[0].starts_with("kmsedge: "), "{err}");
    lines[0].to_string()
}
