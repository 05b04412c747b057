//! Kilat Dispatch: the real-time dispatch server behind Kilat.
//!
//! `domain` decides, `db` persists, `actors` hold live state and sockets,
//! `http` translates. See ARCHITECTURE.md.

pub mod actors;
pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod http;
pub mod mailer;
pub mod metrics;
pub mod payments;
pub mod push;
pub mod services;
pub mod telemetry;

/// The house's shape, checked: no two files of `src/` import each other,
/// directly or around a circle, and `domain` imports none of the others.
#[cfg(test)]
mod architecture {
    use std::collections::{BTreeMap, BTreeSet};

    /// module path ("db::bookings") → its source, tests left out.
    fn modules() -> BTreeMap<String, String> {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out)
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path)
                }
            }
        }
        let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
        let mut files = Vec::new();
        walk(root, &mut files);
        files
            .into_iter()
            .map(|path| {
                let rel = path.strip_prefix(root).unwrap().with_extension("");
                let mut name = rel.to_string_lossy().replace('/', "::");
                if let Some(parent) = name.strip_suffix("::mod") {
                    name = parent.to_owned();
                }
                if name == "lib" || name == "main" {
                    name = String::new();
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or_default().to_owned();
                (name, code)
            })
            .collect()
    }

    /// Which other modules each module names (`crate::…`, `super::…`).
    fn imports(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
        let resolve = |from: &str, path: &[&str]| -> Option<String> {
            let (mut base, rest): (Vec<&str>, &[&str]) = match path.first() {
                Some(&"crate") => (Vec::new(), &path[1..]),
                Some(&"super") => {
                    let mut base: Vec<&str> = from.split("::").filter(|s| !s.is_empty()).collect();
                    base.pop();
                    let mut rest = &path[1..];
                    while rest.first() == Some(&"super") {
                        base.pop();
                        rest = &rest[1..];
                    }
                    (base, rest)
                }
                _ => return None,
            };
            base.extend(rest);
            (1..=base.len()).rev().map(|k| base[..k].join("::")).find(|m| modules.contains_key(m))
        };
        let mut graph = BTreeMap::new();
        for (name, code) in modules {
            let mut targets = BTreeSet::new();
            for (at, _) in code.match_indices(['c', 's']) {
                let tail = &code[at..];
                if !(tail.starts_with("crate::") || tail.starts_with("super::")) {
                    continue;
                }
                if code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let path: String = tail.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
                let parts: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
                let mut paths = vec![parts.clone()];
                if let Some(group) = tail[path.len()..].strip_prefix('{') {
                    for item in group.split('}').next().unwrap_or_default().split(',') {
                        let head =
                            item.trim().split("::").next().unwrap_or_default().split(' ').next().unwrap_or_default();
                        if !head.is_empty() && head != "self" {
                            let mut p = parts.clone();
                            p.push(head);
                            paths.push(p);
                        }
                    }
                }
                for p in paths {
                    if let Some(target) = resolve(name, &p) {
                        let nested =
                            target.starts_with(&format!("{name}::")) || name.starts_with(&format!("{target}::"));
                        if &target != name && !nested && !name.is_empty() && !target.is_empty() {
                            targets.insert(target);
                        }
                    }
                }
            }
            graph.insert(name.clone(), targets);
        }
        graph
    }

    #[test]
    fn no_module_imports_one_that_imports_it_back() {
        let graph = imports(&modules());
        // every module reachable from `from`
        let reach = |from: &str| {
            let mut seen = BTreeSet::new();
            let mut todo: Vec<&str> = graph[from].iter().map(String::as_str).collect();
            while let Some(m) = todo.pop() {
                if seen.insert(m.to_owned()) {
                    todo.extend(graph[m].iter().map(String::as_str));
                }
            }
            seen
        };
        let circles: Vec<String> = graph
            .iter()
            .flat_map(|(m, targets)| {
                targets.iter().filter(|t| reach(t).contains(m)).map(move |t| format!("{m} -> {t}"))
            })
            .collect();
        assert!(circles.is_empty(), "import circles: {circles:#?}");
        assert!(graph["db::bookings"].contains("db::payments"), "the scan sees imports");
    }

    #[test]
    fn storage_commands_live_in_db_and_db_knows_no_http() {
        for (m, code) in modules() {
            if m.starts_with("db") || m.is_empty() {
                continue;
            }
            for command in ["sql_query", "RunQueryDsl", "diesel::prelude", "redis::cmd", "redis::pipe", "query_async"] {
                assert!(!code.contains(command), "{m} runs `{command}` outside db/");
            }
        }
        for (m, code) in modules().iter().filter(|(m, _)| m.starts_with("db")) {
            for http in ["AppError", "StatusCode", "actix_web", "HttpResponse"] {
                assert!(!code.contains(http), "{m} speaks HTTP (`{http}`)");
            }
        }
    }

    #[test]
    fn domain_imports_only_domain() {
        let graph = imports(&modules());
        for (m, targets) in graph.iter().filter(|(m, _)| m.starts_with("domain")) {
            for t in targets {
                assert!(t.starts_with("domain"), "{m} imports {t}");
            }
        }
    }
}
