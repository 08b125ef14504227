//! Loading: YAML text → typed definition → compiled definition, with diagnostics.
//!
//! Phases: YAML syntax → header (`apiVersion`, `kind`) → shape (the typed parse, with
//! `deny_unknown_fields` everywhere) → compile. Serde's messages are turned into stable
//! codes with a "did you mean" for misspelt keys and values.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::Definition;
use super::compile::{CompileEnv, Diags, compile_agent, compile_notifier, compile_provider};
use super::diag::{Code, Diagnostic, did_you_mean, quote};
use super::loc::{Loc, Pos};
use super::model::{API_VERSION, AgentDef, Kind, NotifierDef, ProviderDef};

/// What loading one file gave.
#[derive(Debug)]
pub struct Loaded {
    pub kind: Option<Kind>,
    pub id: Option<Loc<String>>,
    pub def: Option<Definition>,
    pub diags: Vec<Diagnostic>,
}

/// The header, read leniently before the strict parse.
#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "apiVersion", default)]
    api_version: Option<Loc<serde_json::Value>>,
    #[serde(default)]
    kind: Option<Loc<serde_json::Value>>,
    #[serde(default)]
    id: Option<Loc<serde_json::Value>>,
}

/// Budgets against YAML bombs: definitions are small.
fn options() -> serde_saphyr::Options {
    serde_saphyr::Options::default()
}

fn yaml_error(e: &serde_saphyr::Error, code_hint: Option<Code>, text: &str) -> Diagnostic {
    let pos = e.location().map(Pos::from_saphyr).unwrap_or(Pos::UNKNOWN);
    let mut raw = match e {
        serde_saphyr::Error::Message { msg, .. } => msg.clone(),
        other => other.without_snippet().to_string(),
    };
    // Drop a trailing location: the diagnostic carries it.
    if let Some(i) = raw.rfind(" at line ") {
        raw.truncate(i);
    }
    let (code, message, hint) = classify(&raw, code_hint, scalar_at(text, pos));
    let mut d = Diagnostic::error(code, pos, message);
    if let Some(h) = hint {
        d = d.hint(h);
    }
    d
}

/// The plain scalar written at a position (for "found 'soon'" in type errors).
fn scalar_at(text: &str, pos: Pos) -> Option<String> {
    let line = text.lines().nth((pos.line as usize).checked_sub(1)?)?;
    let rest: String = line.chars().skip((pos.col as usize).saturating_sub(1)).collect();
    let rest = rest.trim();
    let end = rest.find(" #").unwrap_or(rest.len());
    let v = rest[..end]
        .trim()
        .trim_end_matches(',')
        .trim_matches(|c| c == '"' || c == '\'');
    (!v.is_empty() && !v.starts_with('{') && !v.starts_with('[')).then(|| v.to_string())
}

/// The first backquoted word of a serde message: "unknown field `x`, ...".
fn first_tick(s: &str) -> &str {
    s.split('`').nth(1).unwrap_or("")
}

/// The names after "expected one of": "a, b, c" or "`a`, `b`" or "`a` or `b`".
fn expected_names(s: &str) -> Vec<String> {
    let Some(i) = s.find("expected ") else {
        return Vec::new();
    };
    let list = s[i + "expected ".len()..].trim_start_matches("one of ");
    list.split(", ")
        .flat_map(|p| p.split(" or "))
        .map(|p| p.trim().trim_matches('`').to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

fn type_words(t: &str) -> &str {
    match t {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number (0 or more)",
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "bool" => "true or false",
        "string" | "str" => "text",
        "sequence" | "seq" => "a list",
        "map" | "mapping" => "a mapping",
        other => other,
    }
}

fn classify(raw: &str, code_hint: Option<Code>, found: Option<String>) -> (Code, String, Option<String>) {
    let one_of = |names: &[String]| -> String {
        let list = names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
        format!("expected one of {list}")
    };
    if raw.starts_with("unknown field") || raw.starts_with("unknown variant") {
        let is_key = raw.starts_with("unknown field");
        let wrong = first_tick(raw);
        let cands = expected_names(raw);
        let hint = match did_you_mean(wrong, cands.iter().map(String::as_str)) {
            Some(s) if is_key => format!("did you mean '{s}'?"),
            Some(s) => format!("did you mean '{s}'? ({})", one_of(&cands)),
            None if cands.is_empty() => "this mapping takes no keys".to_string(),
            None => one_of(&cands),
        };
        let (code, what) = if is_key {
            (Code::UnknownKey, "key")
        } else {
            (Code::UnknownValue, "value")
        };
        return (code, format!("unknown {what} {}", quote(wrong)), Some(hint));
    }
    if raw.starts_with("missing field") {
        let key = first_tick(raw);
        return (
            Code::MissingKey,
            format!("missing key {}", quote(key)),
            Some(format!("add '{key}:' here")),
        );
    }
    if raw.starts_with("duplicate field") || raw.contains("duplicate mapping key") || raw.contains("duplicate key") {
        let key = first_tick(raw);
        let msg = if key.is_empty() {
            raw.to_string()
        } else {
            format!("key {} is given twice", quote(key))
        };
        return (Code::Invalid, msg, Some("keep one of them".into()));
    }
    if let Some(rest) = raw.strip_prefix("invalid type: ") {
        // "invalid type: string \"x\", expected u64"
        let (got, want) = rest.split_once(", expected ").unwrap_or((rest, "another type"));
        let got = got.replace('"', "'");
        return (
            Code::WrongType,
            format!("wrong type: found {got}, expected {want}"),
            Some(format!("write {want} here")),
        );
    }
    if let Some(t) = raw.strip_prefix("invalid ").filter(|t| !t.contains(' ')) {
        let want = type_words(t);
        let msg = match found {
            Some(f) => format!("wrong type: {} is not {want}", quote(&f)),
            None => format!("wrong type: expected {want}"),
        };
        return (Code::WrongType, msg, Some(format!("write {want} here")));
    }
    if raw.starts_with("invalid value") || raw.starts_with("invalid length") {
        return (Code::WrongType, raw.replace(['`', '"'], "'"), None);
    }
    let syntax_hint = Some("check indentation, quotes, brackets and the ':' after each key".to_string());
    match code_hint {
        Some(c) => (c, raw.to_string(), syntax_hint),
        None if raw.starts_with("invalid ") || raw.contains("expected") => (
            Code::WrongType,
            format!("wrong type: {raw}"),
            Some("check the type this key takes in schemas/".into()),
        ),
        None => (Code::YamlSyntax, raw.to_string(), syntax_hint),
    }
}

fn parse<T: DeserializeOwned>(text: &str) -> Result<T, Diagnostic> {
    serde_saphyr::from_str_with_options(text, options()).map_err(|e| yaml_error(&e, None, text))
}

fn kind_of_value(v: &serde_json::Value) -> Option<Kind> {
    match v.as_str()? {
        "Provider" => Some(Kind::Provider),
        "Agent" => Some(Kind::Agent),
        "Notifier" => Some(Kind::Notifier),
        _ => None,
    }
}

fn scalar_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Loads one definition file's text. `file` is only used to label diagnostics.
pub fn load_str(text: &str, file: &Path, env: &CompileEnv) -> Loaded {
    let mut out = Loaded {
        kind: None,
        id: None,
        def: None,
        diags: Vec::new(),
    };
    let finish = |mut out: Loaded| {
        for d in &mut out.diags {
            d.file = file.to_path_buf();
        }
        out.diags.sort_by_key(|d| (d.line, d.col));
        out
    };
    // Phase 1: syntax and header.
    let probe: Probe = match serde_saphyr::from_str_with_options(text, options()) {
        Ok(p) => p,
        Err(e) => {
            let mut d = yaml_error(&e, Some(Code::YamlSyntax), text);
            if d.code == Code::WrongType {
                d = Diagnostic::error(
                    Code::WrongType,
                    d.pos(),
                    "a definition is a YAML mapping of keys such as 'apiVersion', 'kind' and 'id'",
                )
                .hint("start the file with 'apiVersion: tokentop/v1'");
            } else if !matches!(d.code, Code::YamlSyntax) {
                d.code = Code::YamlSyntax;
            }
            out.diags.push(d);
            return finish(out);
        }
    };
    let top = Pos::new(1, 1);
    match &probe.api_version {
        None => out.diags.push(
            Diagnostic::error(Code::ApiVersion, top, "missing key 'apiVersion'")
                .hint(format!("add 'apiVersion: {API_VERSION}'")),
        ),
        Some(v) if v.value.as_str() != Some(API_VERSION) => out.diags.push(
            Diagnostic::error(
                Code::ApiVersion,
                v.pos,
                format!("apiVersion {} is not supported", quote(&scalar_text(v))),
            )
            .hint(format!("this build reads '{API_VERSION}'")),
        ),
        Some(_) => {}
    }
    let kind = match &probe.kind {
        None => {
            out.diags.push(
                Diagnostic::error(Code::UnknownKind, top, "missing key 'kind'")
                    .hint("add 'kind: Provider', 'kind: Agent' or 'kind: Notifier'"),
            );
            None
        }
        Some(k) => match kind_of_value(k) {
            Some(kind) => Some(kind),
            None => {
                let text = scalar_text(k);
                let names = Kind::ALL.map(Kind::as_str);
                let hint = match did_you_mean(&text, names) {
                    Some(s) => format!("did you mean '{s}'?"),
                    None => "kind is 'Provider', 'Agent' or 'Notifier'".into(),
                };
                out.diags.push(
                    Diagnostic::error(Code::UnknownKind, k.pos, format!("unknown kind {}", quote(&text))).hint(hint),
                );
                None
            }
        },
    };
    out.kind = kind;
    out.id = probe.id.as_ref().map(|i| Loc::at(scalar_text(i), i.pos));
    let Some(kind) = kind else { return finish(out) };
    if !out.diags.is_empty() {
        return finish(out);
    }
    // Phase 2 and 3: shape, then compile.
    let mut d = Diags::default();
    let def = match kind {
        Kind::Provider => match parse::<ProviderDef>(text) {
            Ok(p) => compile_provider(p, env, &mut d).map(|c| Definition::Provider(Arc::new(c))),
            Err(e) => {
                d.push(e);
                None
            }
        },
        Kind::Agent => match parse::<AgentDef>(text) {
            Ok(a) => compile_agent(a, env, &mut d).map(|c| Definition::Agent(Arc::new(c))),
            Err(e) => {
                d.push(e);
                None
            }
        },
        Kind::Notifier => match parse::<NotifierDef>(text) {
            Ok(n) => compile_notifier(n, env, &mut d).map(|c| Definition::Notifier(Arc::new(c))),
            Err(e) => {
                d.push(e);
                None
            }
        },
    };
    out.def = def;
    out.diags.extend(d.0);
    finish(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn env() -> CompileEnv {
        CompileEnv {
            home: PathBuf::from("/home/u"),
        }
    }

    fn diags(text: &str) -> Vec<String> {
        load_str(text, Path::new("x.yaml"), &env())
            .diags
            .iter()
            .map(Diagnostic::header)
            .collect()
    }

    #[test]
    fn header_errors() {
        assert_eq!(
            diags("apiVersion: tokentop/v9\nkind: Agent\nid: a\n"),
            vec!["x.yaml:1:13: error[api-version]: apiVersion 'tokentop/v9' is not supported"]
        );
        assert_eq!(
            diags("apiVersion: tokentop/v1\nkind: Agnet\nid: a\n"),
            vec!["x.yaml:2:7: error[unknown-kind]: unknown kind 'Agnet'"]
        );
        let d = diags("a: [\n");
        assert_eq!(d.len(), 1);
        assert!(d[0].contains("error[yaml-syntax]"), "{d:?}");
    }

    #[test]
    fn unknown_key_suggests() {
        let text = "apiVersion: tokentop/v1\nkind: Agent\nid: a\nmeta: { name: A }\nsources: []\nrecrods: {}\n";
        let l = load_str(text, Path::new("x.yaml"), &env());
        assert_eq!(l.diags.len(), 1, "{:?}", l.diags);
        assert_eq!(l.diags[0].code, Code::UnknownKey);
        assert_eq!(l.diags[0].line, 6);
        assert_eq!(l.diags[0].hint.as_deref(), Some("did you mean 'records'?"));
    }
}
