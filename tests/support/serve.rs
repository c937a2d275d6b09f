//! Runs the real `kmsedge serve` binary on loopback for a test: ephemeral
//! ports, a temporary data directory, JSON logs collected from stderr (the
//! bound addresses are read from them), HTTP with or without the admin
//! token, stop by SIGTERM or SIGKILL.
use super::bin::{LIMIT, command, run};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub struct Serve {
    child: Option<Child>,
    /// The first KMS address, and all of them.
    pub kms: SocketAddr,
    pub kms_all: Vec<SocketAddr>,
    pub http: Option<SocketAddr>,
    pub data: PathBuf,
    logs: Arc<Mutex<Vec<String>>>,
    /// Ends when the process closes its stderr: joined after it exits, so
    /// the log is complete.
    reader: Option<JoinHandle<()>>,
    /// The data directory when [`Serve::start_temp`] made it.
    _temp: Option<tempfile::TempDir>,
}

/// Default flags for tests: loopback, ephemeral ports, JSON logs.
fn base_args(data: &Path) -> Vec<String> {
    ["serve", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--log-format", "json", "--log-level", "info"]
        .iter()
        .map(|s| s.to_string())
        .chain(["--data".to_string(), data.display().to_string()])
        .collect()
}

impl Serve {
    /// Starts the host with `extra` flags and waits until it listens.
    pub fn start(data: &Path, extra: &[&str]) -> Serve {
        let mut args = base_args(data);
        args.extend(extra.iter().map(|s| s.to_string()));
        Serve::start_with(args, data)
    }

    /// Like [`Serve::start`], in a temporary data directory of its own
    /// (removed when the `Serve` is dropped).
    pub fn start_temp(extra: &[&str]) -> Serve {
        let temp = tempfile::tempdir().unwrap();
        let mut s = Serve::start(temp.path(), extra);
        s._temp = Some(temp);
        s
    }

    pub fn start_with(args: Vec<String>, data: &Path) -> Serve {
        let mut child = command()
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kmsedge serve");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = logs.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let mut s = Serve {
            child: Some(child),
            kms: "0.0.0.0:0".parse().unwrap(),
            kms_all: vec![],
            http: None,
            data: data.to_owned(),
            logs,
            reader: Some(reader),
            _temp: None,
        };
        let deadline = Instant::now() + LIMIT;
        let wants_http = !args.windows(2).any(|w| w[0] == "--http" && w[1] == "off");
        // Every --listen flag adds a listener (the base one included).
        let listens = args.iter().filter(|a| *a == "--listen").count().max(1);
        loop {
            let kms = s.logged_addrs("KMS host listening");
            let http = s.logged_addrs("HTTP listening").first().copied();
            if kms.len() >= listens && (http.is_some() || !wants_http) {
                s.kms = kms[0];
                s.kms_all = kms;
                s.http = http;
                return s;
            }
            if let Some(status) = s.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("kmsedge serve exited with {status} before listening:\n{}", s.log_text());
            }
            assert!(Instant::now() < deadline, "kmsedge serve did not start:\n{}", s.log_text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn logged_addrs(&self, message: &str) -> Vec<SocketAddr> {
        self.log_events()
            .iter()
            .filter(|e| e["fields"]["message"] == message)
            .filter_map(|e| e["fields"]["addr"].as_str()?.parse().ok())
            .collect()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Every JSON log event so far. The host writes its log from a thread
    /// of its own, so lines trail the answers by a moment: this first waits
    /// until no new line has come for 100 ms (at most 3 s).
    pub fn log_events(&self) -> Vec<Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        let mut seen = self.logs.lock().unwrap().len();
        while std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(100));
            let now = self.logs.lock().unwrap().len();
            if now == seen {
                break;
            }
            seen = now;
        }
        self.logs.lock().unwrap().iter().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    /// Events whose message is `message`.
    pub fn events(&self, message: &str) -> Vec<Value> {
        self.log_events().into_iter().filter(|e| e["fields"]["message"] == message).collect()
    }

    /// Waits up to `limit` for a log event with this message.
    pub fn wait_event(&self, message: &str, limit: Duration) -> Value {
        let end = Instant::now() + limit;
        loop {
            if let Some(e) = self.events(message).into_iter().next() {
                return e;
            }
            assert!(Instant::now() < end, "no {message:?} in the log within {limit:?}:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().unwrap().try_wait().unwrap().is_none()
    }

    /// GET /api/status (loopback needs no token).
    pub fn status(&self) -> Value {
        get_json(&self.url("/api/status"), None)
    }

    /// Sends a signal to the host process, by its pid.
    fn signal(&self, sig: &str) {
        let ok = Command::new("kill").args([sig, &self.pid().to_string()]).status().unwrap().success();
        assert!(ok, "kill {sig} failed");
    }

    pub fn sigterm(&self) {
        self.signal("-TERM");
    }

    /// Waits for the process to exit (after a signal).
    pub fn wait(self) -> ExitStatus {
        self.wait_with_log().0
    }

    /// Waits for the process to exit → (status, the whole log).
    pub fn wait_with_log(mut self) -> (ExitStatus, String) {
        let mut child = self.child.take().unwrap();
        let Some(status) = super::bin::wait_bounded(&mut child, LIMIT) else {
            panic!("kmsedge serve did not exit:\n{}", self.log_text());
        };
        // Its stderr is closed now: the reader has taken the last lines.
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        (status, self.log_text())
    }

    /// SIGTERM and wait: the graceful stop.
    pub fn stop(self) -> ExitStatus {
        self.sigterm();
        self.wait()
    }

    /// SIGTERM and wait → (status, the whole log, last lines included).
    pub fn stop_with_log(self) -> (ExitStatus, String) {
        self.sigterm();
        self.wait_with_log()
    }

    /// SIGKILL: the process gets no chance to clean up.
    pub fn kill9(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http.expect("HTTP is on"), path)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A plain HTTP client that returns every status instead of failing on 4xx.
pub fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

/// GET → (status, body).
pub fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let mut req = http().get(url);
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status().as_u16();
    let mut body = String::new();
    resp.body_mut().as_reader().read_to_string(&mut body).unwrap();
    (status, body)
}

pub fn get_json(url: &str, token: Option<&str>) -> Value {
    let (status, body) = get(url, token);
    assert_eq!(status, 200, "GET {url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: {e}: {body}"))
}

/// Runs the binary with `args`, expecting it to exit by itself within
/// [`LIMIT`] → (exit code, stderr).
pub fn run_to_exit(args: &[&str]) -> (Option<i32>, String) {
    let o = run(args);
    (o.status.code(), super::bin::stderr(&o))
}
