//! `hunt --threads N`: the number of decoding threads changes nothing a person sees. One thread
//! and four give the same alerts, byte for byte: ids, times, evidence, scores, details, on a set
//! with every planted scenario (Sigma rules, new terms and correlations included).

use std::process::Command;

#[path = "support/cli.rs"]
mod cli;
use cli::bin;

fn alerts(src: &std::path::Path, threads: &str) -> Vec<String> {
    let out = cli::run_ok(
        Command::new(bin())
            .args([
                "hunt",
                "--no-progress",
                "--no-store",
                "--format",
                "jsonl",
                "--threads",
            ])
            .arg(threads)
            .arg(src),
    );
    let mut lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

#[test]
fn one_thread_and_four_give_the_same_alerts() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    cli::generate(
        &src,
        &[
            "--events",
            "6000",
            "--keys",
            "8",
            "--scenarios",
            "failed-api-spike,first-seen-ip,new-user-agent-ip,unauthorized-burst,stolen-key-session,quarantine-policy,session-token-abuse,key-for-another-user,first-caller-identity,console-no-mfa,many-countries,attack-techniques",
        ],
    );
    let one = alerts(&src, "1");
    let four = alerts(&src, "4");
    assert!(one.len() > 100, "{}", one.len());
    assert_eq!(one, four);
    // And the flag is checked: zero threads is refused.
    let out = Command::new(bin())
        .args(["hunt", "--no-store", "--threads", "0"])
        .arg(&src)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
