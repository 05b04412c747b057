//! The `kilat` command line, run as an operator would run it.

use std::process::Command;

fn kilat(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kilat")).args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn help_and_version_exit_zero_with_usage() {
    let (code, text) = kilat(&["--help"]);
    assert_eq!(code, 0, "{text}");
    for command in ["serve", "migrate", "admin", "simulate"] {
        assert!(text.contains(command), "--help names {command}: {text}");
    }
    let (code, text) = kilat(&["--version"]);
    assert_eq!((code, text.trim()), (0, concat!("kilat ", env!("CARGO_PKG_VERSION"))));
    for command in
        [&["simulate", "--help"][..], &["serve", "--help"], &["admin", "create", "--help"], &["help", "migrate"]]
    {
        let (code, text) = kilat(command);
        assert_eq!(code, 0, "{command:?}: {text}");
        assert!(text.contains("Usage: kilat"), "{command:?}: {text}");
    }
}

#[test]
fn a_mistake_is_named_and_exits_two() {
    let (code, text) = kilat(&["admin", "create", "--email", "a@b.c"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("--password"), "{text}");
    let (code, text) = kilat(&["serve", "--bogus"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("--bogus"), "{text}");
}
