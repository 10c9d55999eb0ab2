//! Byte-level golden tests of the inet_diag wire format: exact request bytes, hand-built reply
//! buffers, every truncation point, and random bytes that must never panic.
//!
//! Multi-byte netlink fields are in host order, so the literal buffers here are little-endian.
#![cfg(target_endian = "little")]
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use tcpdoctor_model::{Family, PortMatch, Socket, StateSet, TcpState, Timer, TimerKind, VecSink};
use tcpdoctor_sources::netlink::wire::build::{self, DiagMsg};
use tcpdoctor_sources::netlink::wire::{self, Request, WireError};
use tcpdoctor_sources::netlink::{scratch_socket, DumpStats, NetlinkError, Progress, ReplyDecoder};

/// Parses hex with whitespace.
fn hex(s: &str) -> Vec<u8> {
    let h: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert_eq!(h.len() % 2, 0, "odd hex");
    h.chunks(2)
        .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap())
        .collect()
}

fn feed(
    req: Request,
    seq: u32,
    buf: &[u8],
) -> (Result<Progress, NetlinkError>, Vec<Socket>, DumpStats) {
    let mut dec = ReplyDecoder::new(req, seq);
    let mut sink = VecSink::default();
    let mut stats = DumpStats::default();
    let mut scratch = scratch_socket();
    let r = dec.feed(buf, &mut scratch, &mut sink, &mut stats);
    (r, sink.0, stats)
}

const BY4: Request = Request::ByFamily(Family::Inet);

// ---------------------------------------------------------------- requests

#[test]
fn request_v2_inet_all_states() {
    let mut out = Vec::new();
    wire::encode_request(BY4, StateSet::ALL, 1, None, &mut out).unwrap();
    let want = hex("48000000 1400 0103 01000000 00000000
         02 06 00 00  fe0f0000
         0000 0000 00000000000000000000000000000000 00000000000000000000000000000000
         00000000 00000000 00000000");
    assert_eq!(out, want);
    assert_eq!(out.len(), 16 + wire::INET_DIAG_REQ_V2_LEN);
}

#[test]
fn request_v2_inet6_time_wait() {
    let mut out = Vec::new();
    let states = StateSet::one(TcpState::TimeWait);
    wire::encode_request(
        Request::ByFamily(Family::Inet6),
        states,
        0x01020304,
        None,
        &mut out,
    )
    .unwrap();
    let mut want = hex("48000000 1400 0103 04030201 00000000 0a 06 00 00 40000000");
    want.extend_from_slice(&[0u8; 48]);
    assert_eq!(out, want);
}

#[test]
fn request_legacy_one_walk() {
    let mut out = Vec::new();
    let states = StateSet::parse_list("time-wait,close-wait").unwrap();
    wire::encode_request(Request::Legacy, states, 9, None, &mut out).unwrap();
    let mut want = hex("4c000000 1200 0103 09000000 00000000 02 00 00 00");
    want.extend_from_slice(&[0u8; 48]); // inet_diag_sockid
    want.extend_from_slice(&hex("40010000 00000000")); // idiag_states, idiag_dbs
    assert_eq!(out, want);
    assert_eq!(out.len(), 16 + wire::INET_DIAG_REQ_LEN);
}

#[test]
fn bytecode_single_port() {
    let bc = wire::compile_port_filter(&[PortMatch { lo: 80, hi: 80 }], &[])
        .unwrap()
        .unwrap();
    // S_GE 80 (yes +8, no -> end+4 = 20), S_LE 80 (yes +8, no -> 12 = end+4 from offset 8)
    assert_eq!(bc, hex("02 08 1400 0000 5000   03 08 0c00 0000 5000"));
}

#[test]
fn bytecode_alternatives_and_both_sides() {
    let sport = [
        PortMatch { lo: 22, hi: 22 },
        PortMatch { lo: 8000, hi: 8100 },
    ];
    let dport = [PortMatch {
        lo: 1024,
        hi: 65535,
    }];
    let bc = wire::compile_port_filter(&sport, &dport).unwrap().unwrap();
    assert_eq!(
        bc,
        hex("02 08 1400 0000 1600
             03 08 0c00 0000 1600
             01 04 1400
             02 08 1c00 0000 401f
             03 08 1400 0000 a41f
             04 08 0c00 0000 0004")
    );
    // Nothing restricted -> no bytecode.
    assert_eq!(wire::compile_port_filter(&[], &[]).unwrap(), None);
    assert_eq!(
        wire::compile_port_filter(&[PortMatch { lo: 0, hi: 65535 }], &[]).unwrap(),
        None
    );
    // Only a lower bound / only an upper bound.
    let bc = wire::compile_port_filter(&[], &[PortMatch { lo: 0, hi: 1023 }])
        .unwrap()
        .unwrap();
    assert_eq!(bc, hex("05 08 0c00 0000 ff03"));
}

#[test]
fn request_with_bytecode_attribute() {
    let bc = wire::compile_port_filter(&[PortMatch { lo: 80, hi: 80 }], &[])
        .unwrap()
        .unwrap();
    let mut out = Vec::new();
    wire::encode_request(Request::Legacy, StateSet::ALL, 3, Some(&bc), &mut out).unwrap();
    assert_eq!(out.len(), 16 + 60 + 4 + 16);
    assert_eq!(&out[..4], &hex("60000000")[..]);
    assert_eq!(&out[76..80], &hex("1400 0100")[..]); // nla_len 20, INET_DIAG_REQ_BYTECODE
    assert_eq!(&out[80..], &bc[..]);
}

#[test]
fn bytecode_too_long_is_an_error() {
    let many: Vec<PortMatch> = (0..4000u16)
        .map(|i| PortMatch {
            lo: 2 * i + 1,
            hi: 2 * i + 1,
        })
        .collect();
    assert!(matches!(
        wire::compile_port_filter(&many, &[]),
        Err(WireError::FilterTooLong { .. })
    ));
    let mut out = Vec::new();
    assert!(matches!(
        wire::encode_request(BY4, StateSet::ALL, 1, Some(&vec![0u8; 70000]), &mut out),
        Err(WireError::FilterTooLong { .. })
    ));
}

// ---------------------------------------------------------------- replies

/// An IPv4 ESTABLISHED socket, spelled out byte by byte, followed by an INET_DIAG_SHUTDOWN
/// attribute (which the decoder must skip) and NLMSG_DONE.
fn golden_v4_established() -> Vec<u8> {
    hex("60000000 1400 0200 01000000 92100000
         02 01 02 00
         9c40 0cea
         7f000001 000000000000000000000000
         7f000002 000000000000000000000000
         00000000
         2a000000 01000000
         00dd6d00
         00000000
         11000000
         e8030000
         40e20100
         0500 0800 00 000000
         14000000 0300 0200 01000000 92100000 00000000")
}

#[test]
fn decode_v4_established() {
    let buf = golden_v4_established();
    let (r, socks, stats) = feed(BY4, 1, &buf);
    assert_eq!(r.unwrap(), Progress::Done);
    assert_eq!(stats.sockets, 1);
    assert_eq!(stats.messages, 2);
    assert_eq!(socks.len(), 1);
    let s = &socks[0];
    let mut want = Socket::new(
        TcpState::Established,
        "127.0.0.1:40000".parse().unwrap(),
        "127.0.0.2:3306".parse().unwrap(),
    );
    want.timer = Some(Timer {
        kind: TimerKind::Keepalive,
        expires_ms: 7_200_000,
    });
    want.recv_q = Some(0);
    want.send_q = Some(17);
    want.uid = Some(1000);
    want.inode = Some(123_456);
    want.cookie = Some((1u64 << 32) | 42);
    assert_eq!(*s, want);
}

/// IPv6 LISTEN on [::]:22 with 3 connections waiting in an accept queue of 4096.
#[test]
fn decode_v6_listen_with_backlog() {
    let mut buf = hex("58000000 1400 0200 05000000 00000000
         0a 0a 00 00
         0016 0000
         00000000000000000000000000000000
         00000000000000000000000000000000
         00000000 07000000 00000000
         00000000 03000000 00100000 00000000 e7030000");
    build::done(&mut buf, 5, 0);
    let (r, socks, _) = feed(Request::ByFamily(Family::Inet6), 5, &buf);
    assert_eq!(r.unwrap(), Progress::Done);
    let s = &socks[0];
    assert_eq!(s.family, Family::Inet6);
    assert_eq!(s.state, TcpState::Listen);
    assert_eq!(s.local.to_string(), "[::]:22");
    assert_eq!(s.remote.to_string(), "[::]:*");
    assert_eq!(s.timer, None);
    assert_eq!(s.recv_q, Some(3), "accept queue length");
    assert_eq!(s.send_q, Some(4096), "backlog");
    assert_eq!(s.uid, Some(0));
    assert_eq!(s.inode, Some(999));
    assert_eq!(s.cookie, Some(7));
}

#[test]
fn decode_ipv4_mapped_v6() {
    let mut src = [0u8; 16];
    src[10] = 0xff;
    src[11] = 0xff;
    src[12..].copy_from_slice(&[10, 0, 0, 1]);
    let mut dst = src;
    dst[15] = 2;
    let m = DiagMsg {
        family: wire::AF_INET6,
        state: 1,
        sport: 443,
        dport: 50000,
        src,
        dst,
        inode: 5,
        ..Default::default()
    };
    let mut buf = Vec::new();
    build::message(&mut buf, 18, 2, 1, &m.bytes());
    let (r, socks, _) = feed(Request::Legacy, 1, &buf);
    assert_eq!(r.unwrap(), Progress::More);
    let s = &socks[0];
    assert_eq!(s.family, Family::Inet6);
    assert_eq!(
        s.local.ip(),
        Some(IpAddr::V6("::ffff:10.0.0.1".parse::<Ipv6Addr>().unwrap()))
    );
    assert_eq!(
        s.local.canonical_ip(),
        Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))
    );
    assert_eq!(s.local.to_string(), "[::ffff:10.0.0.1]:443");
    assert_eq!(s.remote.to_string(), "[::ffff:10.0.0.2]:50000");
}

fn v4(a: [u8; 4]) -> [u8; 16] {
    let mut x = [0u8; 16];
    x[..4].copy_from_slice(&a);
    x
}

#[test]
fn decode_time_wait_syn_recv_and_fin_wait2_minisocket() {
    let tw = DiagMsg {
        family: wire::AF_INET,
        state: 6,
        timer: 3,
        sport: 41000,
        dport: 80,
        src: v4([127, 0, 0, 1]),
        dst: v4([127, 0, 0, 1]),
        cookie: 99,
        expires: 59_123,
        ..Default::default()
    };
    let syn = DiagMsg {
        family: wire::AF_INET,
        state: 12, // NEW_SYN_RECV request socket
        timer: 1,
        retrans: 2,
        sport: 80,
        dport: 41001,
        src: v4([10, 0, 0, 1]),
        dst: v4([10, 0, 0, 9]),
        expires: 1_000,
        ..Default::default()
    };
    let fw2 = DiagMsg {
        state: 5,
        expires: 30_000,
        ..tw
    };
    let mut buf = Vec::new();
    for m in [tw, syn, fw2] {
        build::message(&mut buf, 20, 2, 7, &m.bytes());
    }
    build::done(&mut buf, 7, 0);
    let (r, socks, stats) = feed(BY4, 7, &buf);
    assert_eq!(r.unwrap(), Progress::Done);
    assert_eq!((stats.sockets, stats.messages), (3, 4));

    let t = &socks[0];
    assert_eq!(t.state, TcpState::TimeWait);
    assert_eq!(
        t.timer,
        Some(Timer {
            kind: TimerKind::Timewait,
            expires_ms: 59_123
        })
    );
    assert_eq!(t.inode, None);
    assert_eq!(t.uid, Some(0));
    assert_eq!((t.recv_q, t.send_q), (Some(0), Some(0)));
    assert_eq!(t.local.to_string(), "127.0.0.1:41000");
    assert_eq!(t.cookie, Some(99));

    let s = &socks[1];
    assert_eq!(s.state, TcpState::SynRecv);
    assert_eq!(
        s.timer,
        Some(Timer {
            kind: TimerKind::On,
            expires_ms: 1_000
        })
    );
    assert_eq!(s.retransmits, 2);
    assert_eq!(s.inode, None);
    assert_eq!(s.remote.to_string(), "10.0.0.9:41001");

    let f = &socks[2];
    assert_eq!(f.state, TcpState::FinWait2);
    assert_eq!(
        f.timer,
        Some(Timer {
            kind: TimerKind::Timewait,
            expires_ms: 30_000
        })
    );
}

#[test]
fn multipart_over_several_datagrams() {
    let mut dec = ReplyDecoder::new(Request::Legacy, 2);
    let mut sink = VecSink::default();
    let mut stats = DumpStats::default();
    let mut scratch = scratch_socket();
    for (i, last) in [(0u16, false), (1, false), (2, true)] {
        let mut buf = Vec::new();
        for j in 0..5u16 {
            let m = DiagMsg {
                family: if j % 2 == 0 {
                    wire::AF_INET
                } else {
                    wire::AF_INET6
                },
                state: 1,
                sport: 1000 + i * 10 + j,
                ..Default::default()
            };
            build::message(
                &mut buf,
                wire::TCPDIAG_GETSOCK,
                wire::NLM_F_MULTI,
                2,
                &m.bytes(),
            );
        }
        if last {
            build::done(&mut buf, 2, 0);
        }
        let p = dec.feed(&buf, &mut scratch, &mut sink, &mut stats).unwrap();
        assert_eq!(p, if last { Progress::Done } else { Progress::More });
    }
    assert_eq!(stats.sockets, 15);
    assert_eq!(stats.messages, 16);
    let ports: Vec<u16> = sink.0.iter().map(|s| s.local.port().unwrap()).collect();
    assert_eq!(
        ports,
        (0..3)
            .flat_map(|i| (0..5).map(move |j| 1000 + i * 10 + j))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        sink.0.iter().filter(|s| s.family == Family::Inet6).count(),
        6
    );
}

#[test]
fn wrong_message_type_is_skipped_and_counted() {
    // A SOCK_DIAG_BY_FAMILY message while waiting for TCPDIAG_GETSOCK replies.
    let m = DiagMsg {
        family: wire::AF_INET,
        state: 1,
        ..Default::default()
    };
    let mut buf = Vec::new();
    build::message(&mut buf, 20, 2, 1, &m.bytes());
    build::message(&mut buf, wire::NLMSG_NOOP, 0, 1, &[]);
    build::done(&mut buf, 1, 0);
    let (r, socks, stats) = feed(Request::Legacy, 1, &buf);
    assert_eq!(r.unwrap(), Progress::Done);
    assert!(socks.is_empty());
    assert_eq!(stats.skipped_other, 1);
}

#[test]
fn done_stops_and_error_maps_errno() {
    // ERROR -EPERM
    let mut buf = Vec::new();
    build::error(&mut buf, 1, -libc::EPERM);
    let (r, _, _) = feed(BY4, 1, &buf);
    let e = r.unwrap_err();
    assert!(
        matches!(
            e,
            NetlinkError::PermissionDenied {
                errno: libc::EPERM,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("Operation not permitted"), "{e}");

    // ERROR -EOPNOTSUPP (legacy interface missing) and -ENOENT (no tcp_diag)
    for errno in [libc::EOPNOTSUPP, libc::ENOENT] {
        let mut buf = Vec::new();
        build::error(&mut buf, 1, -errno);
        let (r, _, _) = feed(Request::Legacy, 1, &buf);
        let e = r.unwrap_err();
        assert!(matches!(e, NetlinkError::NotAvailable { .. }), "{e:?}");
        assert!(
            e.to_string().contains("module tcp_diag not loaded")
                || e.to_string().contains("tcp_diag module is not loaded"),
            "{e}"
        );
    }

    // ERROR 0 is an acknowledgement, not an error.
    let mut buf = Vec::new();
    build::error(&mut buf, 1, 0);
    build::done(&mut buf, 1, 0);
    assert_eq!(feed(BY4, 1, &buf).0.unwrap(), Progress::Done);

    // DONE carrying a negative status: the dump failed part-way.
    let mut buf = Vec::new();
    build::done(&mut buf, 1, -libc::ENOENT);
    assert!(matches!(
        feed(BY4, 1, &buf).0,
        Err(NetlinkError::NotAvailable {
            errno: libc::ENOENT,
            ..
        })
    ));

    // A DONE with an empty payload (very old kernels) ends the dump.
    let mut buf = Vec::new();
    build::message(&mut buf, wire::NLMSG_DONE, 2, 1, &[]);
    assert_eq!(feed(BY4, 1, &buf).0.unwrap(), Progress::Done);

    // ERROR payload too short.
    let mut buf = Vec::new();
    build::message(&mut buf, wire::NLMSG_ERROR, 0, 1, &[1, 2]);
    assert!(matches!(
        feed(BY4, 1, &buf).0,
        Err(NetlinkError::Wire(WireError::ShortPayload {
            what: "NLMSG_ERROR",
            need: 4,
            got: 2
        }))
    ));

    // OVERRUN
    let mut buf = Vec::new();
    build::message(&mut buf, wire::NLMSG_OVERRUN, 0, 1, &[]);
    assert!(matches!(
        feed(BY4, 1, &buf).0,
        Err(NetlinkError::Overflow { .. })
    ));
}

#[test]
fn dump_intr_is_reported() {
    let m = DiagMsg {
        family: wire::AF_INET,
        state: 1,
        ..Default::default()
    };
    let mut buf = Vec::new();
    build::message(
        &mut buf,
        20,
        wire::NLM_F_MULTI | wire::NLM_F_DUMP_INTR,
        1,
        &m.bytes(),
    );
    build::done(&mut buf, 1, 0);
    let (r, socks, stats) = feed(BY4, 1, &buf);
    assert_eq!(r.unwrap(), Progress::Done);
    assert_eq!(socks.len(), 1);
    assert!(stats.interrupted);
    let (_, _, stats) = feed(BY4, 1, &golden_v4_established());
    assert!(!stats.interrupted);
}

#[test]
fn wrong_sequence_is_an_error() {
    let (r, socks, _) = feed(BY4, 2, &golden_v4_established());
    assert!(matches!(
        r,
        Err(NetlinkError::Sequence {
            expected: 2,
            got: 1
        })
    ));
    assert!(socks.is_empty());
}

#[test]
fn unknown_state_and_family_are_counted_and_skipped() {
    let mut buf = Vec::new();
    for (family, state) in [(2u8, 13u8), (2, 0), (2, 200), (17, 1), (10, 1)] {
        let m = DiagMsg {
            family,
            state,
            ..Default::default()
        };
        build::message(&mut buf, 20, 2, 1, &m.bytes());
    }
    build::done(&mut buf, 1, 0);
    let (r, socks, stats) = feed(BY4, 1, &buf);
    assert_eq!(r.unwrap(), Progress::Done);
    assert_eq!(socks.len(), 1);
    assert_eq!(stats.skipped_unknown_state, 3);
    assert_eq!(stats.skipped_unknown_family, 1);
    assert_eq!(stats.sockets, 1);
}

#[test]
fn short_diag_payload_is_an_error() {
    let m = DiagMsg {
        family: 2,
        state: 1,
        ..Default::default()
    }
    .bytes();
    for n in [0, 1, 40, 71] {
        let mut buf = Vec::new();
        build::message(&mut buf, 20, 2, 1, &m[..n]);
        let (r, socks, _) = feed(BY4, 1, &buf);
        match r {
            Err(NetlinkError::Wire(WireError::ShortPayload {
                what: "inet_diag_msg",
                need: 72,
                got,
            })) => {
                assert_eq!(got, n)
            }
            other => panic!("{n}: {other:?}"),
        }
        assert!(socks.is_empty());
    }
}

#[test]
fn every_truncation_point_is_a_clear_error() {
    let full = golden_v4_established();
    let first_len = 0x60; // the diag message (with its attribute)
    for cut in 0..full.len() {
        let (r, socks, _) = feed(BY4, 1, &full[..cut]);
        if cut == 0 || cut == first_len {
            // Message boundary: nothing malformed, the dump simply continues.
            assert_eq!(r.unwrap(), Progress::More, "cut {cut}");
            assert_eq!(socks.len(), usize::from(cut == first_len));
            continue;
        }
        let e = r.unwrap_err();
        let rest = if cut > first_len {
            cut - first_len
        } else {
            cut
        };
        let offset = if cut > first_len { first_len } else { 0 };
        match e {
            NetlinkError::Wire(WireError::TruncatedHeader {
                offset: o,
                remaining,
            }) => {
                assert!(rest < 16, "cut {cut}");
                assert_eq!((o, remaining), (offset, rest));
            }
            NetlinkError::Wire(WireError::BadLength {
                offset: o,
                len,
                remaining,
            }) => {
                assert!(rest >= 16, "cut {cut}");
                assert_eq!((o, remaining), (offset, rest));
                assert_eq!(len, if cut > first_len { 20 } else { 0x60 });
            }
            other => panic!("cut {cut}: {other:?}"),
        }
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn bad_header_lengths() {
    // nlmsg_len below the header size: must not loop forever or panic.
    for len in [0u32, 1, 15] {
        let mut buf = hex("00000000 1400 0200 01000000 00000000");
        buf[..4].copy_from_slice(&len.to_le_bytes());
        buf.extend_from_slice(&[0u8; 80]);
        let (r, _, _) = feed(BY4, 1, &buf);
        assert!(
            matches!(
                r,
                Err(NetlinkError::Wire(WireError::BadLength { offset: 0, .. }))
            ),
            "{len}: {r:?}"
        );
    }
    // A message claiming more than the datagram.
    let mut buf = golden_v4_established();
    buf[..4].copy_from_slice(&1000u32.to_le_bytes());
    let (r, _, _) = feed(BY4, 1, &buf);
    assert!(matches!(
        r,
        Err(NetlinkError::Wire(WireError::BadLength { len: 1000, .. }))
    ));
}

// ---------------------------------------------------------------- never panic

/// xorshift64*: a tiny deterministic generator, enough for fuzz-like loops.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn any_bytes_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut valid = golden_v4_established();
    let m = DiagMsg {
        family: 10,
        state: 12,
        timer: 3,
        ..Default::default()
    };
    build::message(&mut valid, 20, 2, 1, &m.bytes());
    let mut delivered = 0u64;
    for round in 0..30_000 {
        let buf: Vec<u8> = match round % 3 {
            // Pure noise of any length.
            0 => (0..rng.below(400)).map(|_| rng.next() as u8).collect(),
            // A valid datagram with a few bytes flipped and a random cut.
            1 => {
                let mut b = valid.clone();
                for _ in 0..1 + rng.below(4) {
                    let i = rng.below(b.len());
                    b[i] = rng.next() as u8;
                }
                b.truncate(rng.below(b.len() + 1));
                b
            }
            // Headers with plausible lengths and types around the interesting values.
            _ => {
                let mut b = Vec::new();
                for _ in 0..1 + rng.below(4) {
                    let len = [0u32, 15, 16, 20, 87, 88, 96, 4096, u32::MAX][rng.below(9)];
                    let ty = [1u16, 2, 3, 4, 18, 20, 0xffff][rng.below(7)];
                    b.extend_from_slice(&len.to_le_bytes());
                    b.extend_from_slice(&ty.to_le_bytes());
                    b.extend_from_slice(&(rng.next() as u16).to_le_bytes());
                    b.extend_from_slice(&1u32.to_le_bytes());
                    b.extend_from_slice(&0u32.to_le_bytes());
                    b.extend((0..rng.below(100)).map(|_| rng.next() as u8));
                }
                b
            }
        };
        for req in [BY4, Request::Legacy] {
            let (_, socks, stats) = feed(req, 1, &buf);
            assert_eq!(socks.len() as u64, stats.sockets);
            delivered += stats.sockets;
        }
        let mut s = scratch_socket();
        let _ = wire::decode_diag_msg(&buf, &mut s);
        let _ = wire::decode_error(&buf);
        let _ = wire::decode_done(&buf);
        for m in wire::messages(&buf).take(1000) {
            let _ = m;
        }
    }
    // The mutated valid datagrams must have produced sockets some of the time.
    assert!(delivered > 1000, "{delivered}");
}
