//! Localised state words: one test per confirmed language, each on a short sample written
//! for these tests after the layout of the tool that prints it, with exact per-state counts.
//! Where every word comes from is cited in `src/words.rs` next to it.

#![allow(clippy::unwrap_used)]

mod common;

use common::{count, parse};
use tcpdoctor_model::TcpState;
use tcpdoctor_text::{ParseOutput, SourceOs};

fn unknown_words(o: &ParseOutput) -> Vec<String> {
    o.snapshots
        .iter()
        .flat_map(|s| s.unknown_rows.iter().map(|u| u.raw_state.clone()))
        .collect()
}

#[test]
fn windows_german_states() {
    // Own rows in the layout of German Windows `netstat -ano`.
    let o = parse(
        "
Aktive Verbindungen

  Proto  Lokale Adresse         Remoteadresse          Status           PID
  TCP    0.0.0.0:135            0.0.0.0:0              ABHÖREN          1044
  TCP    0.0.0.0:445            0.0.0.0:0              ABH\u{FFFD}REN          4
  TCP    10.0.0.5:50000         10.0.0.9:443           HERGESTELLT      7304
  TCP    10.0.0.5:50001         10.0.0.9:443           HERGESTELLT      7304
  TCP    10.0.0.5:50002         10.0.0.9:443           WARTEND          0
  TCP    10.0.0.5:50003         10.0.0.9:443           SCHLIESSEN_WARTEN 7304
  TCP    10.0.0.5:50004         10.0.0.9:443           SYN_GESENDET     7304
  TCP    10.0.0.5:50005         10.0.0.9:443           FIN_WARTEN_2     7304
  UDP    0.0.0.0:500            *:*                                     2210
",
    );
    assert_eq!(o.format, "windows-netstat");
    assert_eq!(o.os, SourceOs::Windows);
    assert_eq!(count(&o, TcpState::Listen), 2);
    assert_eq!(count(&o, TcpState::Established), 2);
    assert_eq!(count(&o, TcpState::TimeWait), 1);
    assert_eq!(count(&o, TcpState::CloseWait), 1);
    assert_eq!(count(&o, TcpState::SynSent), 1);
    assert_eq!(count(&o, TcpState::FinWait2), 1);
    assert_eq!(o.states.total(), 8);
    assert_eq!(o.details[0].unknown_rows, 0);
    assert_eq!(o.details[0].other_rows, 1);
}

#[test]
fn windows_unknown_words_of_several_words_are_listed_not_dropped() {
    // A TCP row with a state nobody here can confirm (one and several words) is counted
    // as UNKNOWN and listed with the whole state column.
    let o = parse(
        "  Proto  Local Address          Foreign Address        State           PID
  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       1044
  TCP    10.0.0.5:50000         10.0.0.9:443           TOT STAND GEBRACHT 7304
  TCP    10.0.0.5:50001         10.0.0.9:443           ÉTABLIE         7304
",
    );
    assert_eq!(o.os, SourceOs::Windows);
    assert_eq!(count(&o, TcpState::Listen), 1);
    assert_eq!(o.states.total(), 1);
    assert_eq!(o.details[0].unknown_rows, 2);
    assert_eq!(unknown_words(&o), vec!["TOT STAND GEBRACHT", "ÉTABLIE"]);
}

#[test]
fn windows_russian_header_names_the_protocol_column_differently() {
    // Russian Windows: `Имя` where other languages print `Proto`; states stay English.
    let paste = "
Активные подключения

  Имя    Локальный адрес        Внешний адрес          Состояние       PID
  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       1044
  TCP    127.0.0.1:5432         127.0.0.1:50000        ESTABLISHED     4080
  TCP    127.0.0.1:50001        127.0.0.1:5432         TIME_WAIT       0
  TCP    [::]:135               [::]:0                 LISTENING       1044
  UDP    0.0.0.0:500            *:*                                    2210
";
    // The rows alone would read as Windows rows too; the header is what starts a table, so
    // the same output pasted twice is two snapshots.
    let twice = parse(&format!("{paste}{paste}"));
    assert_eq!(twice.snapshots.len(), 2);
    assert_eq!(twice.states.total(), 8);
    let o = parse(paste);
    assert_eq!(o.format, "windows-netstat");
    assert_eq!(o.os, SourceOs::Windows);
    assert_eq!(o.snapshots.len(), 1);
    assert_eq!(count(&o, TcpState::Listen), 2);
    assert_eq!(count(&o, TcpState::Established), 1);
    assert_eq!(count(&o, TcpState::TimeWait), 1);
    assert_eq!(o.states.total(), 4);
    assert_eq!(o.details[0].other_rows, 1);
}

#[test]
fn linux_net_tools_brazilian_portuguese() {
    // Own rows in the layout of net-tools `netstat -tan` under LANG=pt_BR (title, header
    // and state words from net-tools po/pt_BR.po).
    let o = parse(
        "Conexões Internet Ativas (servidores e estabelecidas)
Proto Recv-Q Send-Q Endereço Local          Endereço Remoto         Estado     
tcp        0      0 0.0.0.0:22              0.0.0.0:*               OUÇA       
tcp        0      0 192.168.1.136:43331     74.125.130.125:5222     ESTABELECIDA
tcp        0      0 192.168.1.136:43332     74.125.130.125:5222     ESTABELECIDA
tcp        1      0 192.168.1.136:44130     91.189.94.25:80         ESPERANDO_FECHAR
tcp        0      0 192.168.1.136:44131     91.189.94.25:80         TIME_WAIT  
tcp        0      1 192.168.1.136:44132     91.189.94.25:80         SYN_ENVIADO
tcp        0      0 192.168.1.136:44133     91.189.94.25:80         SYN_RECEBIDO
tcp        0      0 192.168.1.136:44134     91.189.94.25:80         ESPERA_FIN1
tcp        0      0 192.168.1.136:44135     91.189.94.25:80         ESPERA_FIN2
tcp        0      0 192.168.1.136:44136     91.189.94.25:80         ÚLTIMO_ACK 
tcp        0      0 192.168.1.136:44137     91.189.94.25:80         FECHANDO   
tcp        0      0 192.168.1.136:44138     91.189.94.25:80         FECHAR     
tcp        0      0 192.168.1.136:44139     91.189.94.25:80         DESCONHECIDA
udp        0      0 0.0.0.0:68              0.0.0.0:*                          
",
    );
    assert_eq!(o.format, "netstat-linux");
    assert_eq!(o.os, SourceOs::Linux);
    assert_eq!(count(&o, TcpState::Listen), 1);
    assert_eq!(count(&o, TcpState::Established), 2);
    assert_eq!(count(&o, TcpState::CloseWait), 1);
    assert_eq!(count(&o, TcpState::TimeWait), 1);
    assert_eq!(count(&o, TcpState::SynSent), 1);
    assert_eq!(count(&o, TcpState::SynRecv), 1);
    assert_eq!(count(&o, TcpState::FinWait1), 1);
    assert_eq!(count(&o, TcpState::FinWait2), 1);
    assert_eq!(count(&o, TcpState::LastAck), 1);
    assert_eq!(count(&o, TcpState::Closing), 1);
    assert_eq!(count(&o, TcpState::Close), 1);
    assert_eq!(o.states.total(), 12);
    // net-tools' own UNKNOWN (`DESCONHECIDA`) is not a TCP state: listed.
    assert_eq!(unknown_words(&o), vec!["DESCONHECIDA"]);
    assert_eq!(o.details[0].other_rows, 1);
}

#[test]
fn linux_net_tools_czech() {
    // Own rows in the layout of net-tools `netstat -tan` under LANG=cs_CZ (header with the
    // translated queue titles, from net-tools po/cs.po).
    let o = parse(
        "Aktivní Internetová spojení (servery a navázaná spojení)
Proto Přích-F Odch-F Místní Adresa          Vzdálená Adresa         Stav     
tcp        0      0 0.0.0.0:22              0.0.0.0:*               NASLOUCHÁ  
tcp        0      0 10.0.0.5:22             10.0.0.9:51234          SPOJENO    
tcp        0      0 10.0.0.5:22             10.0.0.9:51235          SPOJENO    
tcp        0      0 10.0.0.5:22             10.0.0.9:51236          ZAVÍRÁ     
tcp        0      0 10.0.0.5:22             10.0.0.9:51237          ZAVŘEN     
tcp        1      0 10.0.0.5:22             10.0.0.9:51238          CLOSE_WAIT 
tcp        0      0 10.0.0.5:22             10.0.0.9:51239          TIME_WAIT  
",
    );
    assert_eq!(o.format, "netstat-linux");
    assert_eq!(o.os, SourceOs::Linux);
    assert_eq!(o.snapshots.len(), 1);
    assert_eq!(count(&o, TcpState::Listen), 1);
    assert_eq!(count(&o, TcpState::Established), 2);
    assert_eq!(count(&o, TcpState::Closing), 1);
    assert_eq!(count(&o, TcpState::Close), 1);
    assert_eq!(count(&o, TcpState::CloseWait), 1);
    assert_eq!(count(&o, TcpState::TimeWait), 1);
    assert_eq!(o.states.total(), 7);
    assert_eq!(o.details[0].unknown_rows, 0);
}

#[test]
fn linux_net_tools_czech_two_word_state_is_not_lost() {
    // `POSLEDNÍ ACK` (LAST_ACK in po/cs.po) is two words: the Linux reader joins two words
    // when together they are a known state.
    let o = parse(
        "Proto Přích-F Odch-F Místní Adresa          Vzdálená Adresa         Stav     
tcp        0      0 0.0.0.0:22              0.0.0.0:*               NASLOUCHÁ  
tcp        0      0 10.0.0.5:22             10.0.0.9:51234          POSLEDNÍ ACK
",
    );
    assert_eq!(count(&o, TcpState::Listen), 1);
    assert_eq!(count(&o, TcpState::LastAck), 1);
    assert_eq!(o.states.total(), 2);
    assert_eq!(o.details[0].unknown_rows, 0);
}

#[test]
fn linux_net_tools_swedish() {
    // Own rows in the net-tools layout with the state words of net-tools po/sv.po.
    let o = parse(
        "Proto Recv-Q Send-Q Local Address           Foreign Address         State      
tcp        0      0 0.0.0.0:22              0.0.0.0:*               LYSSNAR    
tcp        0      0 10.0.0.5:22             10.0.0.9:51234          ETABLERAD  
tcp        1      0 10.0.0.5:22             10.0.0.9:51235          STÄNG_VÄNTA
tcp        0      0 10.0.0.5:22             10.0.0.9:51236          STÄNGER    
tcp        0      0 10.0.0.5:22             10.0.0.9:51237          STÄNG      
",
    );
    assert_eq!(o.os, SourceOs::Linux);
    assert_eq!(count(&o, TcpState::Listen), 1);
    assert_eq!(count(&o, TcpState::Established), 1);
    assert_eq!(count(&o, TcpState::CloseWait), 1);
    assert_eq!(count(&o, TcpState::Closing), 1);
    assert_eq!(count(&o, TcpState::Close), 1);
    assert_eq!(o.states.total(), 5);
    assert_eq!(o.details[0].unknown_rows, 0);
}
