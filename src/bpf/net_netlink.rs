// A minimal rtnetlink client: dump the bpf filters of a clsact hook (RTM_GETTFILTER), the
// one query `net show` needs that libbpf has no call for.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use anyhow::Result;

use super::net::Direction;

const NLMSG_HDRLEN: usize = 16;
const TCMSG_LEN: usize = 20;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_GETTFILTER: u16 = 46;
const RTM_NEWTFILTER: u16 = 44;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
const TCA_KIND: u16 = 1;
const TCA_OPTIONS: u16 = 2;
const TCA_BPF_NAME: u16 = 7;
const TCA_BPF_FLAGS: u16 = 8;
const TCA_BPF_ID: u16 = 11;
const TC_H_CLSACT: u32 = 0xffff_fff1;
const TC_H_MIN_INGRESS: u32 = 0xfff2;
const TC_H_MIN_EGRESS: u32 = 0xfff3;

/// One bpf filter on a clsact hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcFilter {
    pub name: Option<String>,
    pub prog_id: u32,
    pub priority: u32,
    pub handle: u32,
    pub direct_action: bool,
}

fn parent(dir: Direction) -> u32 {
    let minor = match dir {
        Direction::Ingress => TC_H_MIN_INGRESS,
        Direction::Egress => TC_H_MIN_EGRESS,
    };
    (TC_H_CLSACT & 0xffff_0000) | minor
}

fn socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked below.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: socket(2) returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The bpf filters on the clsact `dir` hook of `ifindex`, in the kernel's order. No clsact
/// qdisc gives an empty list.
pub fn tc_filters(ifindex: u32, dir: Direction) -> Result<Vec<TcFilter>> {
    let sock = socket().map_err(|e| anyhow::anyhow!("opening a netlink socket: {e}"))?;
    let mut req = Vec::with_capacity(NLMSG_HDRLEN + TCMSG_LEN);
    req.extend_from_slice(&((NLMSG_HDRLEN + TCMSG_LEN) as u32).to_ne_bytes());
    req.extend_from_slice(&RTM_GETTFILTER.to_ne_bytes());
    req.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    req.extend_from_slice(&1u32.to_ne_bytes()); // seq
    req.extend_from_slice(&0u32.to_ne_bytes()); // pid
    req.push(libc::AF_UNSPEC as u8);
    req.extend_from_slice(&[0, 0, 0]);
    req.extend_from_slice(&(ifindex as i32).to_ne_bytes());
    req.extend_from_slice(&0u32.to_ne_bytes()); // handle
    req.extend_from_slice(&parent(dir).to_ne_bytes());
    req.extend_from_slice(&0u32.to_ne_bytes()); // info
                                                // SAFETY: `req` is a valid buffer of req.len() bytes for the duration of the call.
    let sent = unsafe { libc::send(sock.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) };
    if sent < 0 {
        anyhow::bail!(
            "sending a netlink filter dump request: {}",
            io::Error::last_os_error()
        );
    }
    let mut filters = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // SAFETY: `buf` is valid for writes of buf.len() bytes for the duration of the call.
        let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            anyhow::bail!(
                "reading the netlink filter dump: {}",
                io::Error::last_os_error()
            );
        }
        match parse_messages(&buf[..n as usize], &mut filters) {
            Parsed::More => continue,
            Parsed::Done => return Ok(filters),
            // No clsact qdisc on the interface: nothing attached.
            Parsed::Error(e) if e == libc::EINVAL || e == libc::ENOENT => return Ok(Vec::new()),
            Parsed::Error(e) => {
                anyhow::bail!(
                    "dumping tc filters of ifindex {ifindex}: {}",
                    io::Error::from_raw_os_error(e)
                )
            }
        }
    }
}

enum Parsed {
    More,
    Done,
    Error(i32),
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn parse_messages(mut b: &[u8], out: &mut Vec<TcFilter>) -> Parsed {
    while b.len() >= NLMSG_HDRLEN {
        let len = u32_at(b, 0).unwrap_or(0) as usize;
        let kind = u16_at(b, 4).unwrap_or(0);
        if len < NLMSG_HDRLEN || len > b.len() {
            return Parsed::Error(libc::EPROTO);
        }
        let body = &b[NLMSG_HDRLEN..len];
        match kind {
            NLMSG_DONE => return Parsed::Done,
            NLMSG_ERROR => {
                let code = u32_at(body, 0).map_or(libc::EPROTO, |c| -(c as i32));
                return if code == 0 {
                    Parsed::Done
                } else {
                    Parsed::Error(code)
                };
            }
            RTM_NEWTFILTER => {
                if let Some(f) = parse_filter(body) {
                    out.push(f);
                }
            }
            _ => {}
        }
        b = &b[align4(len).min(b.len())..];
    }
    Parsed::More
}

/// The attributes in `b` as (type, payload).
fn attrs(mut b: &[u8]) -> Vec<(u16, &[u8])> {
    let mut all = Vec::new();
    while b.len() >= 4 {
        let len = u16_at(b, 0).unwrap_or(0) as usize;
        let kind = u16_at(b, 2).unwrap_or(0) & 0x3fff;
        if len < 4 || len > b.len() {
            break;
        }
        all.push((kind, &b[4..len]));
        b = &b[align4(len).min(b.len())..];
    }
    all
}

fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn parse_filter(body: &[u8]) -> Option<TcFilter> {
    let handle = u32_at(body, 8)?;
    let info = u32_at(body, 16)?;
    let top = attrs(body.get(TCMSG_LEN..)?);
    let kind = top.iter().find(|(t, _)| *t == TCA_KIND)?;
    if c_string(kind.1) != "bpf" {
        return None;
    }
    // The dump lists each priority's chain head without options; only real filters count.
    let options = top.iter().find(|(t, _)| *t == TCA_OPTIONS)?;
    let opts = attrs(options.1);
    let prog_id = opts
        .iter()
        .find(|(t, _)| *t == TCA_BPF_ID)
        .and_then(|(_, v)| u32_at(v, 0))?;
    Some(TcFilter {
        name: opts
            .iter()
            .find(|(t, _)| *t == TCA_BPF_NAME)
            .map(|(_, v)| c_string(v)),
        prog_id,
        priority: info >> 16,
        handle,
        direct_action: opts
            .iter()
            .find(|(t, _)| *t == TCA_BPF_FLAGS)
            .and_then(|(_, v)| u32_at(v, 0))
            .is_some_and(|f| f & 1 != 0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clsact_parents() {
        assert_eq!(parent(Direction::Ingress), 0xffff_fff2);
        assert_eq!(parent(Direction::Egress), 0xffff_fff3);
    }

    #[test]
    fn a_filter_message_parses() {
        let mut msg = Vec::new();
        let mut body = vec![0u8; TCMSG_LEN];
        body[8..12].copy_from_slice(&1u32.to_ne_bytes());
        body[16..20].copy_from_slice(&((5u32 << 16) | 0x0300).to_ne_bytes());
        let attr = |t: u16, payload: &[u8]| {
            let mut a = Vec::new();
            a.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
            a.extend_from_slice(&t.to_ne_bytes());
            a.extend_from_slice(payload);
            while a.len() % 4 != 0 {
                a.push(0);
            }
            a
        };
        let mut nested = attr(TCA_BPF_ID, &42u32.to_ne_bytes());
        nested.extend(attr(TCA_BPF_NAME, b"cnt:[42]\0"));
        nested.extend(attr(TCA_BPF_FLAGS, &1u32.to_ne_bytes()));
        body.extend(attr(TCA_KIND, b"bpf\0"));
        body.extend(attr(TCA_OPTIONS, &nested));
        msg.extend_from_slice(&((NLMSG_HDRLEN + body.len()) as u32).to_ne_bytes());
        msg.extend_from_slice(&RTM_NEWTFILTER.to_ne_bytes());
        msg.extend_from_slice(&[0u8; 10]);
        msg.extend(body);
        let mut out = Vec::new();
        assert!(matches!(parse_messages(&msg, &mut out), Parsed::More));
        assert_eq!(
            out,
            vec![TcFilter {
                name: Some("cnt:[42]".into()),
                prog_id: 42,
                priority: 5,
                handle: 1,
                direct_action: true,
            }]
        );
    }
}
