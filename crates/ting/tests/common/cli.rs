//! Running the real `ting` binary as a user would, with `--json`, against a
//! test's node: its output parsed, its failures checked to be the JSON error
//! envelope with an exit status of its kind (README, "Exit status").
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

pub struct Cli {
    /// The node, as TING_NODE.
    pub node: String,
    /// The working directory, where key files go.
    pub dir: PathBuf,
}

/// What one run of `ting` left: its exit status, stdout and stderr.
pub struct Ran {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Cli {
    /// Runs `ting [--json] ARGS` in the test's directory against its node.
    pub fn exec(&self, json: bool, args: &[&str]) -> Ran {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ting"));
        if json {
            cmd.arg("--json");
        }
        let out = cmd
            .args(args)
            .env("TING_NODE", &self.node)
            .env("TING_LOG", "warn")
            .env_remove("TING_CHANNELS")
            .current_dir(&self.dir)
            .output()
            .expect("run ting");
        Ran {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).to_string(),
        }
    }

    /// Runs `ting --json ARGS` against the test's node; returns its JSON
    /// output, or if it failed, its JSON error (which must be the API's
    /// envelope, with an exit status for its kind) and its stderr.
    pub fn try_run(&self, args: &[&str]) -> Result<Value, String> {
        let Ran {
            status,
            stdout,
            stderr,
        } = self.exec(true, args);
        if !status.success() {
            let error: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
                panic!("ting {args:?} failed without a JSON error ({e}): {stdout}{stderr}")
            });
            let code = status.code().expect("an exit status");
            assert!((1..=5).contains(&code), "ting {args:?} exited {code}");
            assert!(error["error"]["code"].is_string(), "{error}");
            return Err(format!("{error} {stderr}"));
        }
        serde_json::from_str(stdout.trim())
            .map_err(|e| format!("not JSON ({e}): {stdout}\nstderr: {stderr}"))
    }

    pub fn run(&self, args: &[&str]) -> Value {
        self.try_run(args)
            .unwrap_or_else(|e| panic!("ting {args:?} failed: {e}"))
    }

    pub fn fails(&self, args: &[&str], needle: &str) {
        match self.try_run(args) {
            Ok(v) => panic!("ting {args:?} should fail, gave {v}"),
            Err(e) => assert!(
                e.contains(needle),
                "ting {args:?}: {e:?} should say {needle:?}"
            ),
        }
    }

    pub fn key(&self, name: &str) -> String {
        let path = self.dir.join(format!("{name}.key"));
        let v = self.run(&["keygen", "--out", path.to_str().expect("utf-8")]);
        v["account"]
            .as_str()
            .expect("keygen prints the account")
            .to_owned()
    }

    pub fn balance(&self, id: &str) -> u64 {
        self.run(&["account", "show", id])["balance"]
            .as_u64()
            .expect("a balance")
    }
}

/// A failed command: its exit status and its JSON error.
#[derive(Debug)]
pub struct Failure {
    pub exit: i32,
    pub code: String,
    pub message: String,
}

impl Cli {
    /// Runs `ting --json ARGS`, which must fail; answers its exit status and error.
    pub fn failure(&self, args: &[&str]) -> Failure {
        let ran = self.exec(true, args);
        assert!(
            !ran.status.success(),
            "ting {args:?} should fail, gave {}",
            ran.stdout
        );
        let v: Value = serde_json::from_str(ran.stdout.trim())
            .unwrap_or_else(|e| panic!("ting {args:?}: not a JSON error ({e}): {}", ran.stdout));
        Failure {
            exit: ran.status.code().expect("an exit status"),
            code: v["error"]["code"].as_str().unwrap_or_default().to_owned(),
            message: v["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        }
    }

    /// Runs `ting ARGS`, which must fail with exit status `exit` and `code`.
    pub fn fails_with(&self, args: &[&str], exit: i32, code: &str) -> Failure {
        let f = self.failure(args);
        assert_eq!(
            (f.exit, f.code.as_str()),
            (exit, code),
            "ting {args:?}: {}",
            f.message
        );
        f
    }

    /// Runs `ting ARGS` without `--json`; answers (success, stdout, stderr).
    pub fn human(&self, args: &[&str]) -> (bool, String, String) {
        let ran = self.exec(false, args);
        (ran.status.success(), ran.stdout, ran.stderr)
    }
}
