//! Faults that lose nothing: a registry file damaged before start-up is
//! refused with one line naming it (never a silent start with an empty
//! registry), a torn journal tail is still recovered, and a full disk
//! stops answers (clients retry) until space returns, by itself.
use crate::client::{Client, Outcome, random_cmid, request, sku};
use crate::support::serve::{Serve, get_json, run_to_exit};
use kmsedge::Guid;
use kmsedge::kms::Version;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const WIN10: &str = "Windows 10/11 Enterprise";

fn activate(host: &Serve, cmid: Guid) -> Result<Outcome, String> {
    let mut c = Client::ndr64(host.kms)?;
    c.request(&request(sku(WIN10), Version::V6, cmid, "FAULTS"))
}

/// A data directory with a registry of three clients, the host stopped
/// cleanly (or with kill -9, leaving its journal segment).
fn registry_with_clients(data: &Path, kill: bool) -> Vec<Guid> {
    let host = Serve::start(data, &[]);
    let cmids: Vec<Guid> = (0..3).map(|_| random_cmid()).collect();
    for c in &cmids {
        activate(&host, *c).unwrap().granted();
    }
    if kill {
        host.kill9();
    } else {
        assert!(host.stop().success());
    }
    cmids
}

fn serve_args(data: &Path) -> Vec<String> {
    ["serve", "--listen", "127.0.0.1:0", "--http", "off", "--data"].iter().map(|s| s.to_string()).chain([data.display().to_string()]).collect()
}

/// Starting on `data` fails with exit code 1 and a last stderr line
/// `kmsedge: registry … is damaged …` naming `file` and what to do.
fn refused(data: &Path, file: &Path) -> String {
    let args = serve_args(data);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, err) = run_to_exit(&args);
    assert_eq!(code, Some(1), "{err}");
    let line = err.lines().last().unwrap_or_default().to_string();
    assert!(line.starts_with("kmsedge: registry") && line.contains(&file.display().to_string()), "{err}");
    assert!(line.contains("is damaged") && line.contains("move it aside") && line.contains("restore a backup"), "{line}");
    line
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() && !p.file_name().unwrap().to_string_lossy().ends_with(".lock") {
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
}

#[test]
fn a_damaged_registry_file_is_refused_naming_it_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good");
    let cmids = registry_with_clients(&good, false);
    let db = good.join("registry.sqlite3");
    let size = std::fs::metadata(&db).unwrap().len() as usize;
    let original = std::fs::read(&db).unwrap();
    let damages: [(&str, Box<dyn Fn(&mut Vec<u8>)>); 4] = [
        ("emptied", Box::new(|b: &mut Vec<u8>| b.clear())),
        ("truncated to half", Box::new(move |b: &mut Vec<u8>| b.truncate(size / 2))),
        ("header overwritten", Box::new(|b: &mut Vec<u8>| b[..100].fill(0x5a))),
        ("a page overwritten", Box::new(move |b: &mut Vec<u8>| b[size - 4096..].fill(0xa5))),
    ];
    for (what, damage) in damages {
        let data = tmp.path().join(what.replace(' ', "-"));
        copy_dir(&good, &data);
        let file = data.join("registry.sqlite3");
        let mut bytes = original.clone();
        damage(&mut bytes);
        std::fs::write(&file, &bytes).unwrap();
        let line = refused(&data, &file);
        println!("{what}: {line}");
        assert_eq!(std::fs::read(&file).unwrap(), bytes, "{what}: the file is left as it was");
    }
    // The undamaged registry still starts with its clients (as a restored
    // backup would).
    let host = Serve::start(&good, &["--count-policy", "genuine"]);
    let total = get_json(&host.url("/api/status"), None)["counters"]["total"].clone();
    assert_eq!(total, 3);
    assert_eq!(activate(&host, cmids[0]).unwrap().count(), 3);
    assert!(host.stop().success());
}

#[test]
fn a_damaged_journal_is_refused_and_a_torn_tail_recovered() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    registry_with_clients(&data, true);
    let segment = journal_segments(&data).pop().expect("kill -9 leaves the journal segment");
    let bytes = std::fs::read(&segment).unwrap();
    let first = 8 + u32::from_le_bytes(bytes[0..4].try_into().unwrap()) as usize;
    assert!(bytes.len() > first * 2, "three records");

    // A byte flipped in the first of three records.
    let mut damaged = bytes.clone();
    damaged[40] ^= 0x10;
    std::fs::write(&segment, &damaged).unwrap();
    let line = refused(&data, &segment);
    assert!(line.contains("intact record(s) follow"), "{line}");
    assert_eq!(std::fs::read(&segment).unwrap(), damaged);

    // A torn tail (the last record cut short, as a write cut by a crash)
    // is recovered as always: the host starts with the records before it.
    let mut torn = bytes.clone();
    torn.truncate(bytes.len() - 7);
    std::fs::write(&segment, &torn).unwrap();
    let host = Serve::start(&data, &[]);
    let status = get_json(&host.url("/api/status"), None);
    let total = status["counters"]["total"].as_i64().unwrap();
    assert!((2..=3).contains(&total), "the complete records are kept: {status}");
    assert!(host.stop().success());
}

fn journal_segments(data: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("journal-"))
        .collect();
    v.sort();
    v
}

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(at).output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(Tmpfs(at.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system holding `file` until a write fails.
fn fill(file: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(file).unwrap();
    let chunk = vec![0x55u8; 4096];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
}

/// The disk fills under the host: activations are not answered (the
/// client sees the connection close, as with an unreachable host, and
/// retries later), one log line names the journal file however many
/// requests fail, and once space returns the host answers again by itself;
/// every answered activation is in the registry, no unanswered one counts.
/// On a real, small tmpfs; where mounting is not permitted the journal's
/// injected-error test (`after_a_failed_write_the_journal_goes_on_in_a_clean_segment`,
/// /dev/full) covers the same path, and this test says so.
#[test]
fn a_full_disk_stops_answers_until_space_returns() {
    let tmp = tempfile::tempdir().unwrap();
    let fs = match Tmpfs::mount(&tmp.path().join("small"), "4m") {
        Ok(fs) => {
            println!("disk full: ran on a 4 MiB tmpfs mounted at {}", fs.0.display());
            fs
        }
        Err(e) => {
            println!("disk full: cannot mount a tmpfs here ({e}); ran only the injected-error unit test (/dev/full)");
            return;
        }
    };
    let data = fs.0.join("data");
    let host = Serve::start(&data, &["--count-policy", "genuine"]);
    let mut answered = 0;
    assert_eq!(activate(&host, random_cmid()).unwrap().count(), 1);
    answered += 1;
    let filler = fs.0.join("filler");
    fill(&filler);

    // The journal's segment may still have room in its last page: go on
    // until a request is not answered (bounded).
    let mut failures = 0;
    for _ in 0..200 {
        match activate(&host, random_cmid()) {
            Ok(o) => {
                o.granted();
                answered += 1;
            }
            Err(_) => failures += 1,
        }
        if failures >= 5 {
            break;
        }
    }
    assert_eq!(failures, 5, "requests stop being answered once the disk is full");
    let failed_lines = host.events("registry journal write failed; activations are not answered (clients retry) until it works again");
    assert_eq!(failed_lines.len(), 1, "one line, not one per request:\n{}", host.log_text());
    let path = failed_lines[0]["fields"]["path"].as_str().unwrap().to_string();
    assert!(path.starts_with(&data.display().to_string()) && path.contains("journal-"), "{path}");

    // Space returns: the next request is answered, without a restart.
    std::fs::remove_file(&filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let count = loop {
        match activate(&host, random_cmid()) {
            Ok(o) => break o.count(),
            Err(e) => assert!(Instant::now() < deadline, "not answering after space returned: {e}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    answered += 1;
    assert_eq!(count as usize, answered, "the unanswered machines were not counted");
    host.wait_event("registry journal writes work again; answering", Duration::from_secs(5));
    let status = get_json(&host.url("/api/status"), None);
    assert_eq!(status["counters"]["total"].as_u64().unwrap() as usize, answered, "every answered activation is in the registry");
    let (exit, log) = host.stop_with_log();
    assert!(exit.success(), "{log}");

    // And after a restart.
    let host = Serve::start(&data, &[]);
    let status = get_json(&host.url("/api/status"), None);
    assert_eq!(status["counters"]["total"].as_u64().unwrap() as usize, answered);
    assert!(host.stop().success());
    drop(fs);
}
