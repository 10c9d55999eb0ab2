//! Rates from two readings of the kernel counters over an interval: new connections per
//! second (`ActiveOpens`, `PassiveOpens`, tcp-facts 11.7), closes into TIME_WAIT per second
//! (`TcpExt: TW`, 11.2) and every counter that moved.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tcpdoctor_model::KernelContext;

/// Rates over one interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    /// Length of the interval in seconds.
    pub interval_s: f64,
    /// Outgoing connection attempts per second (`Tcp: ActiveOpens`: entered SYN_SENT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_opens_per_s: Option<f64>,
    /// Incoming connections per second (`Tcp: PassiveOpens`: SYN_RECV created).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passive_opens_per_s: Option<f64>,
    /// Sum of the two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_connections_per_s: Option<f64>,
    /// Sockets entering TIME_WAIT per second (`TcpExt: TW`; counted when the TIME_WAIT
    /// socket is scheduled since ~5.17, when it expired before: the same in a steady state,
    /// tcp-facts 11.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_wait_per_s: Option<f64>,
    /// Every counter that changed, `TcpExt.<name>` / `Tcp.<name>`, as after minus before.
    /// Gauges (`Tcp.CurrEstab`) can be negative.
    pub deltas: BTreeMap<String, i64>,
    /// Counters that went down (a reset, or readings from different namespaces): left out of
    /// the rates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub went_backwards: Vec<String>,
}

impl Rates {
    /// The delta of `TcpExt.<name>` (0 when it did not move or is unknown).
    pub fn ext(&self, name: &str) -> i64 {
        self.deltas
            .get(&format!("TcpExt.{name}"))
            .copied()
            .unwrap_or(0)
    }

    /// The delta of `TcpExt.<name>` per second.
    pub fn ext_per_s(&self, name: &str) -> f64 {
        self.ext(name) as f64 / self.interval_s
    }
}

/// Rates between two readings `interval_ms` apart; `None` for an interval of 0.
pub fn rates(before: &KernelContext, after: &KernelContext, interval_ms: u64) -> Option<Rates> {
    if interval_ms == 0 {
        return None;
    }
    let secs = interval_ms as f64 / 1000.0;
    let mut deltas = BTreeMap::new();
    let mut back = Vec::new();
    for (k, a) in &after.tcp_ext {
        if let Some(b) = before.tcp_ext.get(k) {
            let d = i128::from(*a) - i128::from(*b);
            if d < 0 {
                back.push(format!("TcpExt.{k}"));
            } else if d > 0 {
                deltas.insert(format!("TcpExt.{k}"), i64::try_from(d).unwrap_or(i64::MAX));
            }
        }
    }
    for (k, a) in &after.tcp {
        if let Some(b) = before.tcp.get(k) {
            let d = a.saturating_sub(*b);
            let gauge = k == "CurrEstab" || k == "MaxConn";
            if d < 0 && !gauge {
                back.push(format!("Tcp.{k}"));
            } else if d != 0 && k != "MaxConn" {
                deltas.insert(format!("Tcp.{k}"), d);
            }
        }
    }
    let tcp_rate = |k: &str| -> Option<f64> {
        let (a, b) = (after.tcp.get(k)?, before.tcp.get(k)?);
        (a >= b).then(|| (a - b) as f64 / secs)
    };
    let active = tcp_rate("ActiveOpens");
    let passive = tcp_rate("PassiveOpens");
    let tw = match (after.tcp_ext.get("TW"), before.tcp_ext.get("TW")) {
        (Some(a), Some(b)) if a >= b => Some((a - b) as f64 / secs),
        _ => None,
    };
    Some(Rates {
        interval_s: secs,
        active_opens_per_s: active,
        passive_opens_per_s: passive,
        new_connections_per_s: match (active, passive) {
            (Some(a), Some(p)) => Some(a + p),
            _ => None,
        },
        time_wait_per_s: tw,
        deltas,
        went_backwards: back,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rates_from_deltas() {
        let mut a = KernelContext::default();
        let mut b = KernelContext::default();
        a.tcp.insert("ActiveOpens".into(), 1000);
        b.tcp.insert("ActiveOpens".into(), 6000);
        a.tcp.insert("PassiveOpens".into(), 10);
        b.tcp.insert("PassiveOpens".into(), 60);
        a.tcp.insert("CurrEstab".into(), 50);
        b.tcp.insert("CurrEstab".into(), 40);
        a.tcp_ext.insert("TW".into(), 100);
        b.tcp_ext.insert("TW".into(), 4100);
        a.tcp_ext.insert("ListenOverflows".into(), 9);
        b.tcp_ext.insert("ListenOverflows".into(), 3);
        let r = rates(&a, &b, 10_000).unwrap();
        assert_eq!(r.active_opens_per_s, Some(500.0));
        assert_eq!(r.passive_opens_per_s, Some(5.0));
        assert_eq!(r.new_connections_per_s, Some(505.0));
        assert_eq!(r.time_wait_per_s, Some(400.0));
        assert_eq!(r.deltas["Tcp.CurrEstab"], -10);
        assert_eq!(r.went_backwards, vec!["TcpExt.ListenOverflows".to_string()]);
        assert_eq!(r.ext("TW"), 4000);
        assert!(rates(&a, &b, 0).is_none());
    }
}
