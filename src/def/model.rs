//! The definition language v1 as Rust types: the single source of truth.
//!
//! Every struct denies unknown keys; `schemas/*.json` are generated from these types
//! (see `def::schema`), so a doc comment here is also the editor tooltip of its key.
//! Strings that are compiled (JSONPaths, templates, expressions, globs) are wrapped in
//! [`Loc`] so a compile error can name the line and column of the value.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::loc::Loc;
use super::value_spec::ValueSpec;

/// The only `apiVersion` this build reads.
pub const API_VERSION: &str = "tokentop/v1";

/// The definition kinds, as written in `kind:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, JsonSchema)]
pub enum Kind {
    Provider,
    Agent,
    Notifier,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Provider, Kind::Agent, Kind::Notifier];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Provider => "Provider",
            Kind::Agent => "Agent",
            Kind::Notifier => "Notifier",
        }
    }

    pub fn lower(self) -> &'static str {
        match self {
            Kind::Provider => "provider",
            Kind::Agent => "agent",
            Kind::Notifier => "notifier",
        }
    }
}

/// Display facts about the thing a definition describes.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// Human name shown in the dashboard.
    pub name: String,
    /// One line saying what this definition reads.
    #[serde(default)]
    pub description: Option<String>,
    /// Home page of the provider or agent.
    #[serde(default)]
    pub homepage: Option<String>,
    /// Brand colour as `#rrggbb`.
    #[serde(default)]
    pub brand_color: Option<Loc<String>>,
    /// A one-cell glyph shown next to the name.
    #[serde(default)]
    pub icon: Option<String>,
    /// Other ids that agents and catalogues use for this provider (for example `claude`).
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// What a definition may touch. Anything not listed is refused, at load when the value is
/// literal and at run time always.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Permissions {
    /// Hosts requests may go to (https only); a host also allows its subdomains.
    #[serde(default)]
    pub network: Vec<Loc<String>>,
    /// Environment variables the definition may read.
    #[serde(default)]
    pub env: Vec<Loc<String>>,
    /// Files and directories (with everything below them) the definition may read.
    /// `~` is the home directory.
    #[serde(default)]
    pub files: Vec<Loc<String>>,
}

/// The type of a user-settable configuration value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConfigType {
    Number,
    String,
    Bool,
    /// A string that is never shown, logged or stored in plain text.
    Secret,
}

/// One user-settable value, shown in Settings and readable as `config.<name>`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigField {
    #[serde(rename = "type")]
    pub ty: Loc<ConfigType>,
    #[serde(default)]
    pub default: Option<Loc<serde_json::Value>>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub description: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Provider
// ---------------------------------------------------------------------------------------

/// `kind: Provider`: how to read a model provider's plan, limits, tokens, cost and credits.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderDef {
    /// Always `tokentop/v1`.
    #[serde(rename = "apiVersion")]
    pub api_version: Loc<String>,
    /// Always `Provider` here.
    pub kind: Loc<Kind>,
    /// Unique among providers: `^[a-z][a-z0-9-]*$`.
    pub id: Loc<String>,
    pub meta: Meta,
    #[serde(default)]
    pub permissions: Permissions,
    /// User-settable values, readable as `config.<name>`.
    #[serde(default)]
    pub config: BTreeMap<String, ConfigField>,
    /// Where a credential comes from, tried in order; the first that yields one wins.
    #[serde(default)]
    pub credentials: Vec<CredentialSource>,
    /// OAuth refresh, run when the credential's `expires_at` is near.
    #[serde(default)]
    pub refresh: Option<Refresh>,
    /// HTTP requests, run in order; a later one may use `responses.<id>` of an earlier one.
    pub requests: Vec<Request>,
    /// How the responses map into the usage the dashboard shows.
    pub usage: UsageMap,
    /// Offline tests: recorded responses and the usage they must give.
    #[serde(default)]
    pub tests: Vec<ProviderTest>,
}

/// One place a credential may come from. Exactly one of `env`, `file` or `keychain`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialSource {
    /// Read this environment variable; its value becomes the field named by `as`.
    #[serde(default)]
    pub env: Option<Loc<String>>,
    /// Read this JSON file; `map` picks the fields out of it (paths start at the document,
    /// expressions see it as `doc`). The path may hold `{{ env.NAME }}` holes (declared
    /// variables only, no `..`): rendered at run time, skipped while a variable is unset,
    /// one file per element of a comma-separated value, tried in order.
    #[serde(default)]
    pub file: Option<Loc<String>>,
    /// Read a macOS Keychain generic password (JSON or plain text).
    #[serde(default)]
    pub keychain: Option<Keychain>,
    /// For `env` (or a plain-text keychain item): the credential field it fills.
    #[serde(default, rename = "as")]
    pub as_field: Option<Loc<String>>,
    /// Expression over the parsed file or keychain item (`doc`) that must hold for this
    /// source to be used.
    #[serde(default)]
    pub when: Option<Loc<String>>,
    /// Credential fields taken from the file: `access_token`, `refresh_token`,
    /// `expires_at` (a timestamp), `api_key`, `account_id`, `plan` or any other name.
    /// A source whose `expires_at` has passed is skipped unless it has a `refresh_token`
    /// and the provider a `refresh`. Every field except `expires_at` and `plan` is a
    /// secret: redacted from errors and output.
    #[serde(default)]
    pub map: BTreeMap<String, ValueSpec>,
}

/// A macOS Keychain generic password.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Keychain {
    pub service: String,
    #[serde(default)]
    pub account: Option<String>,
}

/// OAuth token refresh.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Refresh {
    /// Refresh when `expires_at` is less than this far away (`30s`, `5m`, `1h`).
    #[serde(default)]
    pub before: Option<Loc<String>>,
    pub request: Request,
    /// Credential fields taken from the refresh response (`body`).
    pub map: BTreeMap<String, ValueSpec>,
}

/// HTTP methods a definition may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    #[default]
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

/// An HTTP request: provider requests, the refresh request and notifier requests share
/// this shape. The URL's scheme and host must be literal; templates may fill the path,
/// query, headers and body.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Name of this request (required in `requests`); its body is `responses.<id>` in later
    /// expressions and `$.<id>` in usage paths.
    #[serde(default)]
    pub id: Option<Loc<String>>,
    /// Expression: the request runs only when it holds.
    #[serde(default)]
    pub when: Option<Loc<String>>,
    #[serde(default)]
    pub method: Method,
    /// `https://host/path`, a template whose scheme and host are literal.
    pub url: Loc<String>,
    /// Further URLs tried in order when the previous one fails with a network error or 5xx.
    #[serde(default)]
    pub fallback_urls: Vec<Loc<String>>,
    /// Header values are templates.
    #[serde(default)]
    pub headers: BTreeMap<String, Loc<String>>,
    /// Query parameters; values are templates.
    #[serde(default)]
    pub query: BTreeMap<String, Loc<String>>,
    /// A form body (`application/x-www-form-urlencoded`); values are templates.
    #[serde(default)]
    pub form: BTreeMap<String, Loc<String>>,
    /// A JSON body; every string inside is a template.
    #[serde(default)]
    pub json: Option<Loc<serde_json::Value>>,
    /// Timeout in milliseconds (default 10000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// What an HTTP status means, keyed by status code.
    #[serde(default)]
    pub on_status: BTreeMap<u16, StatusOutcome>,
    /// Expression over `body` that must hold for a 2xx response to count as success.
    #[serde(default)]
    pub success: Option<Loc<String>>,
    /// What it means when `success` does not hold (default: an error naming the request;
    /// with `fallback_urls`, the next URL is tried first).
    #[serde(default)]
    pub on_unsuccessful: Option<StatusOutcome>,
    /// When this request fails (network, status, `success`), go on without its response
    /// (`responses.<id>` stays undefined) instead of failing the provider.
    #[serde(default)]
    pub optional: bool,
    /// Follow pages: an expression over `body` giving the next page's query value.
    #[serde(default)]
    pub paginate: Option<Paginate>,
}

/// Paging through a list endpoint. The response kept as `responses.<id>` is the first
/// page with the array at `items` replaced by the items of every page, in order.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Paginate {
    /// Expression over `body` giving the next cursor; null or empty ends paging.
    pub next: Loc<String>,
    /// Query parameter that carries the cursor.
    pub param: String,
    /// JSONPath of the items to concatenate across pages: a plain path such as `$.data`.
    pub items: Loc<String>,
    /// At most this many pages (default 10).
    #[serde(default)]
    pub max_pages: Option<u32>,
}

/// What an HTTP status means for the provider.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusOutcome {
    /// Show this error (a template) instead of the generic one.
    #[serde(default)]
    pub error: Option<Loc<String>>,
    /// The provider is rate limited (until `Retry-After` when given).
    #[serde(default)]
    pub rate_limited: bool,
    /// The credential is not usable: show the provider as not configured.
    #[serde(default)]
    pub unconfigured: bool,
    /// Skip this request and go on with the next one.
    #[serde(default)]
    pub skip: bool,
    /// Keep this response as if it had succeeded (its body becomes `responses.<id>` and
    /// `status.<id>` holds the code) and go on; `error`, when given, is shown beside it.
    #[serde(default)]
    pub keep: bool,
}

/// The closed usage shape every provider maps into.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageMap {
    #[serde(default)]
    pub plan: Option<ValueSpec>,
    #[serde(default)]
    pub limits: Vec<LimitSpec>,
    /// True when a limit is reached (default: any limit at 100%).
    #[serde(default)]
    pub limit_reached: Option<ValueSpec>,
    #[serde(default)]
    pub tokens: Option<TokensSpec>,
    #[serde(default)]
    pub cost: Option<CostSpec>,
    #[serde(default)]
    pub credits: Option<CreditsSpec>,
    /// An error message taken from a successful response.
    #[serde(default)]
    pub error: Option<ValueSpec>,
}

/// One limit window, or a list of them with `each`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitSpec {
    /// JSONPath of an array or map; one limit per element, readable as `item` (and `@` in paths).
    #[serde(default)]
    pub each: Option<Loc<String>>,
    /// Expression over `item`: keep only the elements where it holds.
    #[serde(default, rename = "where")]
    pub filter: Option<Loc<String>>,
    /// Sort the produced limits.
    #[serde(default)]
    pub sort: Option<SortSpec>,
    /// Keep at most this many (after sorting).
    #[serde(default)]
    pub take: Option<usize>,
    /// A template.
    pub label: Loc<String>,
    pub used_percent: ValueSpec,
    #[serde(default)]
    pub resets_at: Option<ValueSpec>,
    #[serde(default)]
    pub window_minutes: Option<ValueSpec>,
}

/// Sorting of limits produced by `each`. Limits without the key sort last.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SortSpec {
    pub by: Loc<SortKey>,
    #[serde(default)]
    pub desc: bool,
    /// The tie-breaker, applied when `by` is equal.
    #[serde(default)]
    pub then: Option<Box<SortSpec>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    UsedPercent,
    ResetsAt,
    Label,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokensSpec {
    #[serde(default)]
    pub input: Option<ValueSpec>,
    #[serde(default)]
    pub output: Option<ValueSpec>,
    #[serde(default)]
    pub cache_read: Option<ValueSpec>,
    #[serde(default)]
    pub cache_write: Option<ValueSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CostKind {
    /// Billed by the provider.
    #[default]
    Actual,
    /// Estimated by the provider.
    Estimated,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CostSpec {
    #[serde(default)]
    pub kind: CostKind,
    pub total: ValueSpec,
    /// ISO currency code (default `USD`).
    #[serde(default)]
    pub currency: Option<ValueSpec>,
}

/// Prepaid credits.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditsSpec {
    /// Whether any credit is left.
    #[serde(default)]
    pub has_credits: Option<ValueSpec>,
    /// What is left: a number, or text such as `$12.50`.
    #[serde(default)]
    pub balance: Option<ValueSpec>,
    #[serde(default)]
    pub limit: Option<ValueSpec>,
    #[serde(default)]
    pub unlimited: Option<ValueSpec>,
}

/// An offline test of a provider definition.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderTest {
    pub name: String,
    /// Credential fields the test runs with, in place of the definition's sources.
    #[serde(default)]
    pub credentials: BTreeMap<String, String>,
    /// Config values the test runs with.
    #[serde(default)]
    pub config: BTreeMap<String, serde_json::Value>,
    /// Environment variables the test runs with (the definition still reads only the
    /// ones it declares). Without `credentials`, the definition's sources are tried
    /// against these and an empty home directory.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The clock of the test, RFC 3339.
    #[serde(default)]
    pub now: Option<Loc<String>>,
    /// Recorded response body per request id (`refresh` for the refresh request): a file
    /// path relative to the definition. `<id>#2`, `<id>#3`... are the further pages of a
    /// paginated request. A request that runs without a response here fails the test.
    #[serde(default)]
    pub responses: BTreeMap<String, Loc<String>>,
    /// HTTP status per request id (default 200), to test `on_status`; a status without a
    /// response file has an empty body.
    #[serde(default)]
    pub statuses: BTreeMap<String, u16>,
    /// Expected usage, inline, in the shape `ttop providers --json` prints (`plan`,
    /// `limits`, `limit_reached`, `tokens`, `cost`, `credits`, `error`, `rate_limited`,
    /// `configured`). Only the keys given are compared; `limits` is compared element by
    /// element with the same length.
    pub expect: Loc<serde_json::Value>,
}

// ---------------------------------------------------------------------------------------
// Agent
// ---------------------------------------------------------------------------------------

/// `kind: Agent`: where a coding agent writes its sessions and how to read usage from them.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentDef {
    /// Always `tokentop/v1`.
    #[serde(rename = "apiVersion")]
    pub api_version: Loc<String>,
    /// Always `Agent` here.
    pub kind: Loc<Kind>,
    /// Unique among agents: `^[a-z][a-z0-9-]*$`.
    pub id: Loc<String>,
    pub meta: Meta,
    #[serde(default)]
    pub permissions: Permissions,
    #[serde(default)]
    pub config: BTreeMap<String, ConfigField>,
    /// Session files: where they are and how they are stored.
    pub sources: Vec<Source>,
    /// How records are read, for every source that has no `records` of its own.
    #[serde(default)]
    pub records: Option<Records>,
    /// Offline tests: fixture files and the records they must give.
    #[serde(default)]
    pub tests: Vec<AgentTest>,
}

/// How a session file is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// One JSON object per line, appended to.
    Jsonl,
    /// One JSON document per file, rewritten whole.
    Json,
    /// A SQLite database, read read-only.
    Sqlite,
}

/// One family of session files.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Name of this source (default: its index), used in progress and `doctor`.
    #[serde(default)]
    pub id: Option<String>,
    /// Directories to scan, templates: `~` and `{{ env.X }}` are allowed. An env var that
    /// holds a comma-separated list gives one root per element. Missing roots are skipped.
    pub roots: Vec<Loc<String>>,
    /// Globs relative to a root (`**` crosses directories). For `sqlite`, the database file.
    pub include: Vec<Loc<String>>,
    /// Globs relative to a root that are never read.
    #[serde(default)]
    pub exclude: Vec<Loc<String>>,
    pub format: Loc<Format>,
    /// `sqlite` only: the query, with a `:cursor` parameter; rows come in cursor order.
    #[serde(default)]
    pub query: Option<Loc<String>>,
    /// `sqlite` only: the column whose largest value read becomes the next `:cursor`.
    #[serde(default)]
    pub cursor: Option<String>,
    /// `sqlite` only: columns holding JSON text, parsed into objects.
    #[serde(default)]
    pub json_columns: Vec<String>,
    /// How records are read from this source (default: the agent's `records`).
    #[serde(default)]
    pub records: Option<Records>,
}

/// Turning lines, documents or rows into usage records.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Records {
    /// JSONPath of the records inside a line, document or row (default: the whole thing).
    #[serde(default)]
    pub each: Option<Loc<String>>,
    /// Literal text a JSONL line must contain to be parsed at all (a fast prefilter).
    #[serde(default)]
    pub prefilter: Option<Loc<String>>,
    /// Expression over the record: only records where it holds are kept.
    #[serde(default, rename = "where")]
    pub filter: Option<Loc<String>>,
    /// Values carried from earlier lines of the same file, readable as `state.<name>`.
    #[serde(default)]
    pub state: Vec<StateRule>,
    /// `cumulative`: token fields are running totals; each record counts the increase
    /// since the previous one of the same file, and a record with no increase counts nothing.
    #[serde(default)]
    pub counters: Option<Loc<Counters>>,
    /// Each request is counted once across all files: records with the same key are one.
    #[serde(default)]
    pub dedup: Option<Dedup>,
    /// The normalised fields of a usage record.
    pub fields: Fields,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Counters {
    /// Token fields are per record (the default).
    PerRecord,
    /// Token fields are running totals.
    Cumulative,
}

/// A rule that sets carried values from a line.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateRule {
    /// Literal text the line must contain for this rule to look at it.
    #[serde(default)]
    pub prefilter: Option<Loc<String>>,
    /// Expression over the line.
    #[serde(rename = "when")]
    pub when: Loc<String>,
    /// Values to carry, by name.
    pub set: BTreeMap<String, ValueSpec>,
}

/// Which record of a duplicate set the store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Keep {
    /// The one with the most tokens (streamed responses whose counts grow), with the
    /// earliest timestamp of the set.
    Largest,
    /// The one read last (documents rewritten whole).
    #[default]
    Last,
    /// The one read first.
    First,
}

/// The dedup key and which duplicate wins.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dedup {
    /// Values joined into the key; a record with any of them missing is kept without dedup.
    pub key: Vec<ValueSpec>,
    #[serde(default)]
    pub keep: Keep,
}

/// The normalised fields. Token fields: `input` is non-cached input, `output` is billed
/// output (reasoning included), `reasoning` is the reasoning part of `output`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fields {
    /// The session the record belongs to.
    pub session_id: ValueSpec,
    /// When the request happened (convert with `type:`; becomes Unix milliseconds).
    pub timestamp: ValueSpec,
    #[serde(default)]
    pub provider: Option<ValueSpec>,
    #[serde(default)]
    pub model: Option<ValueSpec>,
    #[serde(default)]
    pub project: Option<ValueSpec>,
    #[serde(default)]
    pub session_name: Option<ValueSpec>,
    #[serde(default)]
    pub input: Option<ValueSpec>,
    #[serde(default)]
    pub output: Option<ValueSpec>,
    #[serde(default)]
    pub cache_read: Option<ValueSpec>,
    #[serde(default)]
    pub cache_write: Option<ValueSpec>,
    /// The part of `cache_write` written with a 1-hour lifetime.
    #[serde(default)]
    pub cache_write_1h: Option<ValueSpec>,
    #[serde(default)]
    pub reasoning: Option<ValueSpec>,
    /// Cost in USD as the agent recorded it.
    #[serde(default)]
    pub cost: Option<ValueSpec>,
    /// How long the request took, in milliseconds.
    #[serde(default)]
    pub duration_ms: Option<ValueSpec>,
    /// Service tier or speed (`standard`, `fast`, `priority`...).
    #[serde(default)]
    pub speed: Option<ValueSpec>,
}

/// An offline test of an agent definition.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentTest {
    pub name: String,
    /// Index of the source the fixture belongs to (default 0).
    #[serde(default)]
    pub source: usize,
    /// Fixture files or directories, relative to the definition file; each is read as if
    /// found under a root.
    pub fixtures: Vec<Loc<String>>,
    /// Expected totals: `records`, `input`, `output`, `cache_read`, `cache_write`,
    /// `reasoning`, `sessions`, and `models` (a list). Only the keys given are compared.
    pub expect: Loc<serde_json::Value>,
}

// ---------------------------------------------------------------------------------------
// Notifier
// ---------------------------------------------------------------------------------------

/// `kind: Notifier`: where budget and limit alerts are sent.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifierDef {
    #[serde(rename = "apiVersion")]
    pub api_version: Loc<String>,
    pub kind: Loc<Kind>,
    pub id: Loc<String>,
    pub meta: Meta,
    #[serde(default)]
    pub permissions: Permissions,
    #[serde(default)]
    pub config: BTreeMap<String, ConfigField>,
    /// Events this notifier receives.
    pub events: Vec<Loc<EventKind>>,
    /// The least severe event sent (default `warning`).
    #[serde(default)]
    pub min_severity: Severity,
    /// The request sent for each event; templates see `event` and `config`.
    pub request: Request,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum EventKind {
    #[serde(rename = "budget.threshold_crossed")]
    BudgetThresholdCrossed,
    #[serde(rename = "budget.limit_reached")]
    BudgetLimitReached,
    #[serde(rename = "provider.limit_reached")]
    ProviderLimitReached,
    #[serde(rename = "provider.fetch_failed")]
    ProviderFetchFailed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    #[default]
    Warning,
    Critical,
}
