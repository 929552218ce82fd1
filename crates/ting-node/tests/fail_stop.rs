//! A node is fail-stop: once `Node::start` has run, a panic on a node thread
//! (one named `ting-...`) aborts the process, so that recovery starts from
//! the durable log, while a panic on one of the embedding program's own
//! threads does not.
//!
//! The test runs its own binary again as a child (selected by an environment
//! variable) that starts a node and panics on a thread of the given name; the
//! parent looks at how the child ended.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};

use ting_node::Node;

use common::*;

/// Set in the child: the name of the thread to panic on.
const CHILD_THREAD: &str = "TING_FAIL_STOP_CHILD_THREAD";
/// What the child prints when the panic did not stop it.
const SURVIVED: &str = "the child survived the panic";
const SIGABRT: i32 = 6;

/// Starts a node, then panics on a thread named `name`.
fn child(name: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::start(config(dir.path())).expect("the node starts");
    let joined = std::thread::Builder::new()
        .name(name.into())
        .spawn(|| panic!("a deliberate panic"))
        .expect("spawn")
        .join();
    assert!(joined.is_err(), "the thread panicked");
    println!("{SURVIVED}");
    node.shutdown();
}

/// Runs this very test in a child process that panics on a thread named `name`.
fn run_child(name: &str) -> Output {
    let exe = std::env::current_exe().expect("the test binary");
    Command::new(exe)
        .args([
            "--exact",
            "a_panic_on_a_node_thread_aborts_the_process_and_one_elsewhere_does_not",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_THREAD, name)
        .output()
        .expect("run the child")
}

#[test]
fn a_panic_on_a_node_thread_aborts_the_process_and_one_elsewhere_does_not() {
    if let Ok(name) = std::env::var(CHILD_THREAD) {
        child(&name);
        return;
    }
    let out = run_child("ting-test");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(
        out.status.signal(),
        Some(SIGABRT),
        "a panic on ting-test aborts: {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert!(!stdout.contains(SURVIVED), "{stdout}");
    assert!(
        stderr.contains("a deliberate panic"),
        "the earlier hook still reports the panic: {stderr}"
    );
    assert!(
        stderr.contains("recovery starts from the durable log"),
        "says why it stops: {stderr}"
    );

    let out = run_child("worker");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "a panic on another thread does not stop the process: {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert!(stdout.contains(SURVIVED), "{stdout}");
    assert!(stderr.contains("a deliberate panic"), "{stderr}");
}
