//! Observation and grouping as streaming sinks: order, memory bounds, sources without owners.

#![allow(clippy::unwrap_used)]

mod common;

use common::sockets;
use std::sync::Arc;
use tcpdoctor_diagnose::{
    diagnose, DiagnoseInput, GroupAggregator, GroupBy, ListeningPorts, Observation, ObserveConfig,
    SourceOs,
};
use tcpdoctor_model::{KernelContext, ScanInfo, ServiceNames, SocketSink, SourceKind, TcpState};

fn lines(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn listeners_first_stream_classifies_like_a_snapshot() {
    // Listener first (as /proc and inet_diag order them): the server side is learnt in stream.
    let socks = sockets(&lines(&[
        "1 LISTEN 0.0.0.0:80 0.0.0.0:0",
        "400 TIME_WAIT 10.0.0.2:80 192.0.2.1+:51000",
    ]));
    let mut o = Observation::new(
        &ScanInfo::new(SourceKind::Netlink),
        ObserveConfig::default(),
    );
    for s in &socks {
        o.socket(s);
    }
    assert_eq!(o.total, 401);
    assert!(
        o.port_spaces.is_empty(),
        "server-side TIME_WAIT must not count as client port use"
    );
    assert_eq!(o.server_tw_peers.len(), 400);
    let k = KernelContext::default();
    let obs = [o];
    let r = diagnose(&DiagnoseInput::new(&obs, &k, SourceOs::Linux));
    assert_eq!(
        r.findings.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
        vec!["time-wait-server-side"]
    );

    // Listener last, nothing given: the 400 would look like 400 client port spaces; passing
    // the ListeningPorts from a first pass fixes it.
    let mut rev = socks.clone();
    rev.reverse();
    let first_pass = ListeningPorts::from_sockets(&rev);
    let cfg = ObserveConfig {
        listening: first_pass,
        ..Default::default()
    };
    let mut o = Observation::new(&ScanInfo::new(SourceKind::Netlink), cfg);
    for s in &rev {
        o.socket(s);
    }
    assert!(o.port_spaces.is_empty());
}

#[test]
fn memory_is_bounded_by_max_keys() {
    let socks = sockets(&lines(&[
        "5000 ESTABLISHED 10.0.0.2:40000+ 198.51.100.1+:443",
    ]));
    let cfg = ObserveConfig {
        max_keys: 100,
        ..Default::default()
    };
    let mut o = Observation::new(&ScanInfo::new(SourceKind::Netlink), cfg);
    for s in &socks {
        o.socket(s);
    }
    assert_eq!(o.total, 5000);
    assert_eq!(o.states.get(TcpState::Established), 5000);
    assert_eq!(o.peers.len(), 100);
    assert_eq!(o.port_spaces.len(), 100);
    // 4,900 peers and 4,900 port spaces were not recorded.
    assert_eq!(o.dropped_keys, 9800);
    let k = KernelContext::default();
    let obs = [o];
    let r = diagnose(&DiagnoseInput::new(&obs, &k, SourceOs::Linux));
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("and 9,800 socket entries were left out")),
        "{:?}",
        r.notes
    );
}

#[test]
fn group_aggregator_learns_listeners_in_stream() {
    let socks = sockets(&lines(&[
        "1 LISTEN 0.0.0.0:3306 0.0.0.0:0",
        "7 TIME_WAIT 10.0.0.2:3306 10.0.0.9:40000+",
        "3 TIME_WAIT 10.0.0.2:50000+ 10.0.0.5:443",
    ]));
    let services = Arc::new(ServiceNames::parse("mysql 3306/tcp\nhttps 443/tcp\n"));
    let mut g = GroupAggregator::new(GroupBy::Service, ListeningPorts::new(), services, false)
        .learn_listeners(true);
    for s in &socks {
        g.socket(s);
    }
    assert_eq!(g.key_count(), 2);
    let out = g.finish(0);
    let keys: Vec<_> = out
        .groups
        .iter()
        .map(|g| (g.key.as_str(), g.total, g.label.as_str()))
        .collect();
    assert_eq!(
        keys,
        vec![
            ("local:3306", 8, "mysql (3306)"),
            ("remote:443", 3, "https (443)")
        ]
    );
}

#[test]
fn a_million_sockets_stay_in_few_keys() {
    // 1M server-side TIME_WAIT from 1,000 clients: keys bounded by clients, not sockets.
    let mut o = Observation::new(
        &ScanInfo::new(SourceKind::Netlink),
        ObserveConfig::default(),
    );
    let listener = sockets(&lines(&["1 LISTEN 0.0.0.0:80 0.0.0.0:0"]));
    o.socket(&listener[0]);
    let mut s = sockets(&lines(&["1 TIME_WAIT 10.0.0.2:80 192.0.2.1:1024"])).remove(0);
    let t = std::time::Instant::now();
    for i in 0..1_000_000u32 {
        let ip = std::net::Ipv4Addr::from(0xC000_0200 + (i % 1000));
        s.remote = tcpdoctor_model::Endpoint::from_addr((ip, 1024 + (i / 1000) as u16).into());
        o.socket(&s);
    }
    let el = t.elapsed();
    assert_eq!(o.total, 1_000_001);
    assert_eq!(o.peers.len(), 1000);
    assert_eq!(o.server_tw_peers.len(), 1000);
    assert!(o.port_spaces.is_empty());
    assert_eq!(o.server_tw_samples[&80].len(), 3);
    eprintln!("observed 1M sockets in {el:?}");
}

#[test]
fn merged_parts_account_for_every_socket_past_the_cap() {
    // 5,000 sockets to distinct peers, observed in two capped parts and merged: each socket is
    // either under a kept key or counted as left out, once per map (peers, port spaces).
    let socks = sockets(&lines(&[
        "5000 ESTABLISHED 10.0.0.2:40000+ 198.51.100.1+:443",
    ]));
    let cfg = ObserveConfig {
        max_keys: 100,
        ..Default::default()
    };
    let info = ScanInfo::new(SourceKind::Netlink);
    let mut a = Observation::new(&info, cfg.clone());
    let mut b = Observation::new(&info, cfg);
    for (i, s) in socks.iter().enumerate() {
        if i % 2 == 0 {
            a.socket(s)
        } else {
            b.socket(s)
        }
    }
    a.merge(b);
    assert_eq!(a.total, 5000);
    assert_eq!(a.peers.len(), 100);
    assert_eq!(a.port_spaces.len(), 100);
    assert_eq!(a.dropped_keys, 2 * (5000 - 100));
}

#[test]
fn a_part_knows_the_listeners_and_takes_its_share_of_the_cap() {
    let listener = sockets(&lines(&["1 LISTEN 0.0.0.0:80 0.0.0.0:0"]));
    let tw = sockets(&lines(&["300 TIME_WAIT 10.0.0.2:80 192.0.2.1+:51000"]));
    let cfg = ObserveConfig {
        max_keys: 100,
        ..Default::default()
    };
    let mut o = Observation::new(&ScanInfo::new(SourceKind::Text), cfg);
    o.socket(&listener[0]);
    let mut p = o.part(2);
    assert_eq!(p.source, SourceKind::Text);
    for s in &tw {
        p.socket(s);
    }
    // Port 80 is known as listened: server-side TIME_WAIT, per peer, 50 keys at most.
    assert!(p.port_spaces.is_empty());
    assert_eq!(p.server_tw_peers.len(), 50);
    assert_eq!(p.peers.len(), 50);
    o.merge(p);
    assert_eq!(o.total, 301);
    assert_eq!(o.server_tw_peers.len(), 50);
}
