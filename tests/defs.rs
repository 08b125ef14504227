//! The definition language against its fixtures: golden diagnostics for invalid files,
//! valid files load clean, schemas are fresh and validate every built-in, and the loader
//! survives random bytes and mutated definitions.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
#![allow(clippy::disallowed_methods)] // The UPDATE_* switches are read from the test's own environment.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use ttop::def::registry::{Origin, Registry, builtin_files, yaml_files};
use ttop::def::{CompileEnv, load_str, schema};

fn env() -> CompileEnv {
    CompileEnv {
        home: PathBuf::from("/home/user"),
    }
}

/// Renders every diagnostic of a registry built from the given files.
fn render(files: &[PathBuf]) -> String {
    let mut reg = Registry::default();
    for f in files {
        let text = std::fs::read_to_string(f).unwrap();
        reg.add(Origin::File(f.clone()), text, &env());
    }
    reg.resolve(&[]);
    reg.diagnostics
        .iter()
        .map(|d| d.render(reg.source_of(&d.file)))
        .collect::<Vec<_>>()
        .join("")
}

#[test]
fn invalid_definitions_give_the_expected_diagnostics() {
    let dir = Path::new("tests/defs/invalid");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    cases.retain(|p| p.is_dir() || p.extension().is_some_and(|x| x == "yaml"));
    cases.sort();
    assert!(
        cases.len() >= 15,
        "expected at least 15 invalid cases, found {}",
        cases.len()
    );
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut failures = Vec::new();
    for case in cases {
        let files = if case.is_dir() {
            yaml_files(&case)
        } else {
            vec![case.clone()]
        };
        let got = render(&files);
        assert!(got.contains(": error["), "{}: no error reported", case.display());
        let expected_path = case.with_extension("expected");
        if update {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if got != want {
            failures.push(format!("--- {}\n{got}--- expected\n{want}", case.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "diagnostics differ (UPDATE_EXPECT=1 rewrites):\n{}",
        failures.join("\n")
    );
}

#[test]
fn valid_definitions_load_without_diagnostics() {
    let files = yaml_files(Path::new("tests/defs/valid"));
    assert!(files.len() >= 3);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let l = load_str(&text, &f, &env());
        assert!(l.diags.is_empty(), "{}: {:?}", f.display(), l.diags);
        assert!(l.def.is_some());
    }
}

#[test]
fn builtin_definitions_load_without_diagnostics() {
    let reg = Registry::load_all(None, &[], &env());
    assert!(reg.diagnostics.is_empty(), "{:?}", reg.diagnostics);
}

#[test]
fn schemas_are_up_to_date() {
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    for (file, _) in schema::FILES {
        let want = schema::generate(file).unwrap();
        let path = Path::new("schemas").join(file);
        if update {
            std::fs::create_dir_all("schemas").unwrap();
            std::fs::write(&path, &want).unwrap();
        } else {
            let have = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                have == want,
                "{} is stale: run UPDATE_SCHEMAS=1 cargo test --test defs",
                path.display()
            );
        }
    }
}

fn validator(file: &str) -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(&schema::generate(file).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn check_against_schema(label: &str, text: &str) {
    let doc: serde_json::Value = serde_saphyr::from_str(text).unwrap();
    let kind = doc["kind"].as_str().unwrap().to_lowercase();
    let v = validator(&format!("{kind}.v1.json"));
    let errors: Vec<String> = v
        .iter_errors(&doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{label}: {errors:?}");
}

#[test]
fn schemas_validate_every_builtin_and_valid_definition() {
    for (rel, text) in builtin_files() {
        check_against_schema(rel, text);
    }
    for f in yaml_files(Path::new("tests/defs/valid")) {
        check_against_schema(&f.display().to_string(), &std::fs::read_to_string(&f).unwrap());
    }
}

#[test]
fn schema_rejects_a_typo() {
    let doc = serde_json::json!({"apiVersion": "tokentop/v1", "kind": "Agent", "id": "x", "meta": {"name": "x"},
        "sources": [], "recrods": {}});
    assert!(!validator("agent.v1.json").is_valid(&doc));
}

fn valid_texts() -> Vec<String> {
    let mut v: Vec<String> = yaml_files(Path::new("tests/defs/valid"))
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    v.extend(builtin_files().map(|(_, t)| t.to_string()));
    v
}

#[derive(Debug, Clone)]
enum Mutation {
    DeleteByte(usize),
    InsertByte(usize, u8),
    SwapLines(usize, usize),
    DuplicateLine(usize),
    DeleteLine(usize),
    Truncate(usize),
}

fn mutate(text: &str, m: &Mutation) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let mut lines: Vec<&str> = text.lines().collect();
    let n = lines.len().max(1);
    match *m {
        Mutation::DeleteByte(i) => {
            if !bytes.is_empty() {
                bytes.remove(i % bytes.len());
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Mutation::InsertByte(i, b) => {
            bytes.insert(i % (bytes.len() + 1), b);
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Mutation::SwapLines(a, b) => {
            let len = lines.len();
            if len > 0 {
                lines.swap(a % len, b % len);
            }
            lines.join("\n")
        }
        Mutation::DuplicateLine(a) => {
            let l = lines.get(a % n).copied().unwrap_or("");
            lines.insert(a % n, l);
            lines.join("\n")
        }
        Mutation::DeleteLine(a) => {
            if !lines.is_empty() {
                lines.remove(a % lines.len());
            }
            lines.join("\n")
        }
        Mutation::Truncate(i) => String::from_utf8_lossy(&bytes[..i % (bytes.len() + 1)]).into_owned(),
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::DeleteByte),
        (
            any::<usize>(),
            prop_oneof![
                Just(b':'),
                Just(b' '),
                Just(b'\n'),
                Just(b'{'),
                Just(b'$'),
                Just(b'"'),
                any::<u8>()
            ]
        )
            .prop_map(|(i, b)| Mutation::InsertByte(i, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn assert_diagnosed(text: &str) {
    let l = load_str(text, Path::new("fuzz.yaml"), &env());
    if l.def.is_none() {
        assert!(
            l.diags.iter().any(|d| d.is_error()),
            "rejected without an error diagnostic:\n{text}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        assert_diagnosed(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mutated_definitions_are_diagnosed(idx in any::<usize>(), muts in proptest::collection::vec(mutation(), 1..4)) {
        let texts = valid_texts();
        let mut t = texts[idx % texts.len()].clone();
        for m in &muts {
            t = mutate(&t, m);
        }
        assert_diagnosed(&t);
    }
}

#[test]
fn loading_one_kind_compiles_only_its_builtins() {
    let all = Registry::load_all(None, &[], &env());
    let agents = Registry::load(None, &[], &env(), Some(ttop::def::Kind::Agent));
    assert!(agents.entries.len() >= 4);
    assert!(agents.entries.iter().all(|e| e.kind == Some(ttop::def::Kind::Agent)));
    let agent_ids = |r: &Registry| {
        let mut v: Vec<String> = r.agents().iter().map(|a| a.id.clone()).collect();
        v.sort();
        v
    };
    assert_eq!(agent_ids(&agents), agent_ids(&all));
    assert!(all.entries.len() > agents.entries.len());
}
