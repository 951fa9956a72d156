// `metrics serve`: an HTTP endpoint (tiny_http) whose every GET /metrics is a fresh scrape,
// with BPF run-time statistics enabled while it runs; its log lines go to stderr.

use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use anyhow::Result;
use tiny_http::{Header, Method, Request, Response, Server};

use super::scrape::{self, Targets};
use crate::bpf::stats::{self, StatsSource};
use crate::bpf::stream;
use crate::cli::MetricsServeArgs;
use crate::error::{hinted, usage};
use crate::grammar;
use crate::output::Output;

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A line of the server's log on stderr (stdout stays empty while it serves).
fn log(message: &str) {
    crate::output::status_line(&format!("rbt metrics: {message}"));
}

pub fn serve(args: &MetricsServeArgs, out: &mut Output) -> Result<()> {
    grammar::parse("metrics", "serve", &args.words)?;
    if args.workers == 0 || args.max_series == 0 {
        return Err(usage("--workers and --max-series must be at least 1"));
    }
    let targets = super::targets(&args.maps, Some(args.max_series))?;
    scrape::check(&targets)?;
    // Listing programs needs CAP_SYS_ADMIN: without it every scrape would fail, so say so now.
    crate::bpf::ids(crate::bpf::Kind::Prog)?;
    let listener = bind(&args.listen)?;
    let addr = listener
        .local_addr()
        .map_err(|e| anyhow::anyhow!("--listen {}: {e}", args.listen))?;
    let server = Server::from_listener(listener, None)
        .map_err(|e| anyhow::anyhow!("serving on {addr}: {e}"))?;
    stream::install_stop_handlers()?;
    let guard = match stats::enable_run_time_stats() {
        Ok(g) => Some(g),
        Err(e) => {
            log(&format!(
                "{e:#}; run counts and times stay as they are (needs CAP_SYS_ADMIN)"
            ));
            None
        }
    };
    match &guard {
        Some(StatsSource::Held(_)) => log("BPF run-time statistics enabled while rbt serves"),
        Some(StatsSource::AlreadyOn) => {
            log("BPF run-time statistics already on (kernel.bpf_stats_enabled=1); left alone")
        }
        None => {}
    }
    log(&format!("serving http://{addr}/metrics"));
    std::thread::scope(|s| {
        for _ in 0..args.workers {
            s.spawn(|| worker(&server, &targets));
        }
    });
    drop(guard);
    log("stopped");
    out.done(None)?;
    Ok(())
}

/// Bind ADDR, with errors that say what is wrong with it.
fn bind(text: &str) -> Result<TcpListener> {
    let addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|e| {
            usage(format!(
                "--listen `{text}`: expected IP:PORT (127.0.0.1:9435): {e}"
            ))
        })?
        .collect();
    let mut last = None;
    for addr in &addrs {
        match TcpListener::bind(addr) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some((addr, e)),
        }
    }
    let Some((addr, e)) = last else {
        return Err(usage(format!("--listen `{text}`: no address")));
    };
    Err(match e.raw_os_error() {
        Some(libc::EADDRINUSE) => hinted(
            format!("--listen {addr}: the address is in use"),
            format!(
                "another process listens there (`ss -ltnp 'sport = :{}'`); choose another port",
                addr.port()
            ),
        ),
        Some(libc::EADDRNOTAVAIL) => hinted(
            format!(
                "--listen {addr}: {} is not an address of this host",
                addr.ip()
            ),
            "listen on 127.0.0.1, on 0.0.0.0 (every address) or on an address `ip addr` shows",
        ),
        _ => anyhow::anyhow!("--listen {addr}: {e}"),
    })
}

fn worker(server: &Server, targets: &Targets) {
    while stream::stop_signal().is_none() {
        match server.recv_timeout(Duration::from_millis(250)) {
            Ok(Some(request)) => answer(request, targets),
            Ok(None) => {}
            Err(e) => log(&format!("accepting a connection: {e}")),
        }
    }
}

fn answer(request: Request, targets: &Targets) {
    let path = request.url().split('?').next().unwrap_or("").to_owned();
    let method = request.method().clone();
    let response = match (path.as_str(), &method) {
        ("/metrics", Method::Get | Method::Head) => metrics(targets),
        ("/metrics", _) => text(405, "only GET and HEAD\n"),
        ("/", Method::Get | Method::Head) => text(200, "rbt metrics: see /metrics\n"),
        _ => text(404, "not found: the metrics are at /metrics\n"),
    };
    if let Err(e) = request.respond(response) {
        log(&format!("{method} {path}: answering: {e}"));
    }
}

fn text(code: u16, body: &str) -> Response<io::Cursor<Vec<u8>>> {
    Response::from_string(body).with_status_code(code)
}

/// One scrape as a response; an error (or a bug) is a 500, never the end of the server.
fn metrics(targets: &Targets) -> Response<io::Cursor<Vec<u8>>> {
    let run = || scrape::scrape(targets, Vec::with_capacity(1 << 16), &mut |m| log(m));
    let body = match catch_unwind(AssertUnwindSafe(run)) {
        Ok(Ok(body)) => body,
        Ok(Err(e)) => {
            log(&format!("scrape failed: {e:#}"));
            return text(500, &format!("scrape failed: {e:#}\n"));
        }
        Err(_) => {
            log("scrape failed: internal error");
            return text(500, "scrape failed: internal error\n");
        }
    };
    let mut response = Response::from_data(body);
    if let Ok(h) = Header::from_bytes("Content-Type", CONTENT_TYPE) {
        response.add_header(h);
    }
    response
}
