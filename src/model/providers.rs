//! Provider usage as the dashboard shows it: plan, limits with reset times, the trend of
//! polled percentages and the last error. The provider engine (or the demo) fills these.

/// One limit of a provider (a rate window, a monthly quota, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    /// What the limit is, such as `5h window` or `Monthly tokens`.
    pub label: String,
    /// Percent used, when known.
    pub used_percent: Option<f64>,
    /// When the limit resets (Unix ms).
    pub resets_ms: Option<i64>,
    /// The limit's window length in minutes, when it has one.
    pub window_minutes: Option<u64>,
    /// The provider says the limit is reached.
    pub reached: bool,
}

/// One provider's latest state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProviderStatus {
    pub id: String,
    pub name: String,
    pub plan: Option<String>,
    pub limits: Vec<Limit>,
    /// The last poll's error, shown where it happened.
    pub error: Option<String>,
    /// When the last poll finished (Unix ms).
    pub polled_ms: Option<i64>,
    /// The highest used percent of the last polls, oldest first.
    pub history: Vec<f64>,
    /// A credit balance in USD, when the provider reports one.
    pub credits: Option<f64>,
}

impl ProviderStatus {
    /// The highest used percent over its limits.
    pub fn max_percent(&self) -> Option<f64> {
        self.limits
            .iter()
            .filter_map(|l| l.used_percent.or(l.reached.then_some(100.0)))
            .reduce(f64::max)
    }

    /// Whether some limit is reached.
    pub fn limit_reached(&self) -> bool {
        self.limits.iter().any(|l| l.reached)
    }

    /// The earliest reset.
    pub fn next_reset_ms(&self) -> Option<i64> {
        self.limits.iter().filter_map(|l| l.resets_ms).min()
    }
}

/// How many polled percentages a provider's trend keeps.
pub const HISTORY: usize = 30;

impl ProviderStatus {
    /// The dashboard's view of one poll, continuing the trend of earlier polls.
    pub fn from_usage(u: &crate::engine::provider::ProviderUsage, mut history: Vec<f64>) -> ProviderStatus {
        let mut limits: Vec<Limit> = u
            .limits
            .iter()
            .map(|l| Limit {
                label: l.label.clone(),
                used_percent: Some(l.used_percent),
                resets_ms: l.resets_at,
                window_minutes: l.window_minutes.and_then(|m| u64::try_from(m).ok()),
                reached: l.used_percent >= 100.0,
            })
            .collect();
        if u.limit_reached && !limits.iter().any(|l| l.reached) {
            match limits.first_mut() {
                Some(first) => first.reached = true,
                None => limits.push(Limit {
                    label: "Limit".to_owned(),
                    used_percent: None,
                    resets_ms: u.retry_at,
                    window_minutes: None,
                    reached: true,
                }),
            }
        }
        if let Some(max) = u.max_used_percent() {
            history.push(max);
            if history.len() > HISTORY {
                history.remove(0);
            }
        }
        let credits = u.credits.as_ref().and_then(|c| match &c.balance {
            Some(serde_json::Value::Number(n)) => n.as_f64(),
            Some(serde_json::Value::String(s)) => s.trim_start_matches('$').replace(',', "").parse().ok(),
            _ => None,
        });
        ProviderStatus {
            id: u.id.clone(),
            name: u.name.clone(),
            plan: u.plan.clone(),
            limits,
            error: u.error.clone(),
            polled_ms: Some(u.fetched_at),
            history,
            credits,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use super::*;
    use crate::engine::provider::{Limit as PLimit, ProviderUsage};

    fn usage(percents: &[f64], reached: bool) -> ProviderUsage {
        ProviderUsage {
            id: "p".into(),
            name: "P".into(),
            configured: true,
            plan: Some("Pro".into()),
            limits: percents
                .iter()
                .map(|&p| PLimit {
                    label: format!("{p}"),
                    used_percent: p,
                    resets_at: Some(1_000),
                    window_minutes: Some(300),
                })
                .collect(),
            limit_reached: reached,
            tokens: None,
            cost: None,
            credits: Some(crate::engine::provider::Credits {
                balance: Some(serde_json::json!("$1,234.50")),
                ..Default::default()
            }),
            error: None,
            rate_limited: false,
            retry_at: None,
            fetched_at: 42,
            credential_source: None,
        }
    }

    #[test]
    fn polls_become_statuses_with_a_bounded_trend() {
        let s = ProviderStatus::from_usage(&usage(&[30.0, 70.0], false), vec![1.0; HISTORY]);
        assert_eq!(s.max_percent(), Some(70.0));
        assert_eq!(s.history.len(), HISTORY);
        assert_eq!(s.history.last(), Some(&70.0));
        assert_eq!(s.credits, Some(1234.5));
        assert_eq!(s.limits[0].window_minutes, Some(300));
        assert!(!s.limit_reached());
        let reached = ProviderStatus::from_usage(&usage(&[], true), Vec::new());
        assert!(reached.limit_reached());
        assert_eq!(reached.max_percent(), Some(100.0));
    }
}
