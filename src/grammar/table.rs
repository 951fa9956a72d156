// The grammar table: every object's and verb's words and examples, in one place. A new verb
// is one entry here (and one function in src/cmd/). See ARCHITECTURE.md.

use super::words::BtfFormat;
use super::words::{
    CgroupAttachFlag, CgroupAttachType, DumpCode, MapAttachType, NetAttachType, ShellName,
    UpdateFlag, Word,
};
use super::{Group, Slot, Source, Syntax, Value};
use crate::bpf::profile::METRIC_NAMES;
use crate::bpf::Kind;

const PROG: Value = Value::Handle(Kind::Prog);
const MAP: Value = Value::Handle(Kind::Map);
const LINK: Value = Value::Handle(Kind::Link);
const PIN_FILE: Value = Value::Text("FILE", Source::BpffsPath);
const LOCAL_FILE: Value = Value::Text("FILE", Source::LocalPath);
const IFACE: Value = Value::Text("IF", Source::Ifaces);
const NET_ATTACH_TYPE: Value = Value::Choice("ATTACH_TYPE", NetAttachType::WORDS);

const fn verb(
    object: &'static str,
    verb: &'static str,
    slots: &'static [Slot],
    examples: &'static [&'static str],
) -> Syntax {
    Syntax {
        object,
        verb,
        slots,
        groups: &[],
        examples,
    }
}

const LOAD_SLOTS: &[Slot] = &[
    Slot::pos("OBJ", &[LOCAL_FILE_OBJ]),
    Slot::pos("PATH", &[Value::Text("PATH", Source::BpffsPath)]).optional(),
    Slot::kw(&["type"], &[Value::Text("TYPE", Source::ProgTypes)]),
    Slot::kw(
        &["map"],
        &[
            Value::Select(&[
                ("idx", Value::Number("N")),
                ("name", Value::Text("NAME", Source::Nothing)),
            ]),
            MAP,
        ],
    )
    .any_number(),
    Slot::kw(&["pinmaps"], &[Value::Text("DIR", Source::BpffsDir)]),
    Slot::kw(&["autoattach"], &[]),
    // bpftool's device offload words: parsed so rbt can say it does not offload.
    Slot::kw(&["dev"], &[IFACE]).hidden(),
    Slot::kw(&["offload_dev"], &[IFACE]).hidden(),
    Slot::kw(&["xdpmeta_dev"], &[IFACE]).hidden(),
];
const LOCAL_FILE_OBJ: Value = Value::Text("OBJ", Source::LocalPath);

const HOOK: &str = "HOOK";
const ATTACH_SLOTS: &[Slot] = &[
    Slot::pos("PROG", &[PROG]),
    Slot::kw(
        &["tracepoint", "tp"],
        &[Value::Text("CAT:NAME", Source::Nothing)],
    )
    .group(HOOK),
    Slot::kw(
        &["raw_tracepoint", "raw_tp"],
        &[Value::Text("NAME", Source::Nothing)],
    )
    .group(HOOK),
    Slot::kw(&["kprobe"], &[Value::Text("FUNC[+OFF]", Source::Nothing)]).group(HOOK),
    Slot::kw(&["kretprobe"], &[Value::Text("FUNC", Source::Nothing)]).group(HOOK),
    Slot::kw(
        &["uprobe"],
        &[Value::Text("PATH:SYMBOL[+OFF]", Source::LocalPath)],
    )
    .group(HOOK),
    Slot::kw(
        &["uretprobe"],
        &[Value::Text("PATH:SYMBOL", Source::LocalPath)],
    )
    .group(HOOK),
    Slot::kw(
        &["usdt"],
        &[Value::Text("PATH:PROVIDER:NAME", Source::LocalPath)],
    )
    .group(HOOK),
    Slot::kw(&["fentry"], &[]).group(HOOK),
    Slot::kw(&["fexit"], &[]).group(HOOK),
    Slot::kw(&["fmod_ret"], &[]).group(HOOK),
    Slot::kw(
        &["cgroup"],
        &[
            Value::Text("CGROUP", Source::LocalDir),
            Value::Text("CGROUP_ATTACH_TYPE", Source::AttachTypes),
        ],
    )
    .group(HOOK),
    Slot::kw(&["pid"], &[Value::Number("PID")]),
    MAP_HOOKS[0],
    MAP_HOOKS[1],
    MAP_HOOKS[2],
    MAP_HOOKS[3],
    MAP_HOOKS[4],
];

/// `prog attach|detach PROG ATTACH_TYPE MAP`: bpftool's map-attached types, and the flow
/// dissector (on the network namespace, no MAP).
const MAP_HOOKS: [Slot; 5] = [
    Slot::kw(nth(MapAttachType::WORDS, 0), &[MAP]).group(HOOK),
    Slot::kw(nth(MapAttachType::WORDS, 1), &[MAP]).group(HOOK),
    Slot::kw(nth(MapAttachType::WORDS, 2), &[MAP]).group(HOOK),
    Slot::kw(nth(MapAttachType::WORDS, 3), &[MAP]).group(HOOK),
    Slot::kw(nth(MapAttachType::WORDS, 4), &[]).group(HOOK),
];
const PROG_DETACH_SLOTS: &[Slot] = &[
    Slot::pos("PROG", &[PROG]),
    MAP_HOOKS[0],
    MAP_HOOKS[1],
    MAP_HOOKS[2],
    MAP_HOOKS[3],
    MAP_HOOKS[4],
];

const CGROUP: Value = Value::Text("CGROUP", Source::LocalDir);
const CGROUP_ATTACH_TYPE: Value = Value::Choice("ATTACH_TYPE", CgroupAttachType::WORDS);
const ATTACH_FLAGS: &str = "ATTACH_FLAGS";
const CGROUP_ATTACH_SLOTS: &[Slot] = &[
    Slot::pos("CGROUP", &[CGROUP]),
    Slot::pos("ATTACH_TYPE", &[CGROUP_ATTACH_TYPE]),
    Slot::pos("PROG", &[PROG]),
    Slot::kw(nth(CgroupAttachFlag::WORDS, 0), &[]).group(ATTACH_FLAGS),
    Slot::kw(nth(CgroupAttachFlag::WORDS, 1), &[]).group(ATTACH_FLAGS),
    Slot::kw(&["replace"], &[PROG]).group(ATTACH_FLAGS),
];
const CGROUP_DETACH_SLOTS: &[Slot] = &[
    Slot::pos("CGROUP", &[CGROUP]),
    Slot::pos("ATTACH_TYPE", &[CGROUP_ATTACH_TYPE]),
    Slot::pos("PROG", &[PROG]),
];
const EFFECTIVE: Slot = Slot::kw(&["effective"], &[]);

const RUN_SLOTS: &[Slot] = &[
    Slot::pos("PROG", &[PROG]),
    Slot::kw(&["data_in"], &[LOCAL_FILE]).required(),
    Slot::kw(&["data_out"], &[LOCAL_FILE]),
    Slot::kw(&["data_size_out"], &[Value::Number("L")]),
    Slot::kw(&["ctx_in"], &[LOCAL_FILE]),
    Slot::kw(&["ctx_out"], &[LOCAL_FILE]),
    Slot::kw(&["ctx_size_out"], &[Value::Number("M")]),
    Slot::kw(&["repeat"], &[Value::Number("N")]),
];

const PROFILE_SLOTS: &[Slot] = &[
    Slot::pos("PROG", &[PROG]),
    Slot::kw(&["duration"], &[Value::Number("D")]),
    Slot::kw(nth(METRIC_NAMES, 0), &[]),
    Slot::kw(nth(METRIC_NAMES, 1), &[]),
    Slot::kw(nth(METRIC_NAMES, 2), &[]),
    Slot::kw(nth(METRIC_NAMES, 3), &[]),
    Slot::kw(nth(METRIC_NAMES, 4), &[]),
    Slot::kw(nth(METRIC_NAMES, 5), &[]),
];

const UPDATE_FLAGS: &str = "UPDATE_FLAGS";

/// Word `i` of a closed list, as a one-word keyword list.
const fn nth(words: &'static [&'static str], i: usize) -> &'static [&'static str] {
    words.split_at(i).1.split_at(1).0
}
const ENTRY_SLOTS: &[Slot] = &[
    Slot::pos("MAP", &[MAP]),
    Slot::kw(&["key"], &[Value::Bytes("DATA")]).required(),
    Slot::kw(&["value"], &[Value::Bytes("VALUE")]).required(),
    Slot::kw(nth(UpdateFlag::WORDS, 0), &[]).group(UPDATE_FLAGS),
    Slot::kw(nth(UpdateFlag::WORDS, 1), &[]).group(UPDATE_FLAGS),
    Slot::kw(nth(UpdateFlag::WORDS, 2), &[]).group(UPDATE_FLAGS),
];

const CREATE_SLOTS: &[Slot] = &[
    Slot::pos("FILE", &[PIN_FILE]),
    Slot::kw(&["type"], &[Value::Text("TYPE", Source::MapTypes)]).required(),
    Slot::kw(&["key"], &[Value::Number("KEY_SIZE")]).required(),
    Slot::kw(&["value"], &[Value::Number("VALUE_SIZE")]).required(),
    Slot::kw(&["entries"], &[Value::Number("MAX_ENTRIES")]).required(),
    Slot::kw(&["name"], &[Value::Text("NAME", Source::Nothing)]).required(),
    Slot::kw(&["flags"], &[Value::Text("FLAGS", Source::Nothing)]),
    Slot::kw(&["inner_map"], &[MAP]),
];

const NET_SLOTS: &[Slot] = &[
    Slot::pos("ATTACH_TYPE", &[NET_ATTACH_TYPE]),
    Slot::pos("PROG", &[PROG]).optional(),
    Slot::kw(&["dev"], &[IFACE]).many(),
    Slot::kw(&["overwrite"], &[]),
    Slot::kw(&["prepend"], &[]),
    Slot::kw(&["prio"], &[Value::Number("P")]),
    Slot::kw(&["handle"], &[Value::Number("H")]),
];

const NET_DETACH_SLOTS: &[Slot] = &[
    Slot::pos("ATTACH_TYPE", &[NET_ATTACH_TYPE]),
    Slot::pos("PROG", &[PROG]).optional(),
    Slot::kw(&["dev"], &[IFACE]).many(),
    Slot::kw(&["prio"], &[Value::Number("P")]),
    Slot::kw(&["handle"], &[Value::Number("H")]),
];

const DUMP_SLOTS: &[Slot] = &[
    Slot::pos("CODE", &[Value::Choice("CODE", DumpCode::WORDS)]),
    Slot::pos("PROG", &[PROG]),
    Slot::kw(&["file"], &[LOCAL_FILE]),
    Slot::kw(&["opcodes"], &[]),
    Slot::kw(&["linum"], &[]),
    Slot::kw(&["visual"], &[]),
];

const FEATURE_PROBE_SLOTS: &[Slot] = &[
    Slot::kw(&["kernel"], &[]).group("COMPONENT"),
    Slot::kw(&["dev"], &[IFACE]).group("COMPONENT"),
    Slot::kw(&["full"], &[]),
    Slot::kw(&["unprivileged"], &[]),
    Slot::kw(&["macros"], &[]),
    Slot::kw(&["prefix"], &[Value::Text("PREFIX", Source::Nothing)]),
];

const ONE_PROG: &[Slot] = &[Slot::pos("PROG", &[PROG]).optional()];
const ONE_MAP: &[Slot] = &[Slot::pos("MAP", &[MAP])];
/// `perf events` / `map event_pipe`: bpftool's `cpu N index M` read one CPU's buffer.
const EVENTS_SLOTS: &[Slot] = &[
    Slot::pos("MAP", &[MAP]),
    Slot::kw(&["cpu"], &[Value::Number("N")]),
    Slot::kw(&["index"], &[Value::Number("M")]),
];
const ANY_MAP: &[Slot] = &[Slot::pos("MAP", &[MAP]).optional()];
const ANY_LINK: &[Slot] = &[Slot::pos("LINK", &[LINK]).optional()];
const PUSH_SLOTS: &[Slot] = &[
    Slot::pos("MAP", &[MAP]),
    Slot::kw(&["value"], &[Value::Bytes("VALUE")]).required(),
    Slot::kw(nth(UpdateFlag::WORDS, 0), &[]).group(UPDATE_FLAGS),
    Slot::kw(nth(UpdateFlag::WORDS, 1), &[]).group(UPDATE_FLAGS),
    Slot::kw(nth(UpdateFlag::WORDS, 2), &[]).group(UPDATE_FLAGS),
];
const FLAG_GROUP: &[Group] = &[Group {
    name: UPDATE_FLAGS,
    required: false,
}];

const BTF_SOURCE: &str = "SOURCE";
const BTF_PART: &str = "PART";
const BTF_DUMP_SLOTS: &[Slot] = &[
    Slot::kw(&["id"], &[Value::Number("ID")]).group(BTF_SOURCE),
    Slot::kw(&["map"], &[MAP]).group(BTF_SOURCE),
    Slot::kw(&["prog"], &[PROG]).group(BTF_SOURCE),
    Slot::kw(&["file"], &[LOCAL_FILE]).group(BTF_SOURCE),
    Slot::kw(&["key"], &[]).group(BTF_PART),
    Slot::kw(&["value"], &[]).group(BTF_PART),
    Slot::kw(&["kv"], &[]).group(BTF_PART),
    Slot::kw(&["all"], &[]).group(BTF_PART),
    Slot::kw(&["format"], &[Value::Choice("FORMAT", BtfFormat::WORDS)]),
    Slot::kw(&["root_id"], &[Value::Number("ROOT_ID")]).any_number(),
];

static TABLE: &[Syntax] = &[
    // ---- prog ----
    verb("prog", "", &[], &[
        "rbt prog show",
        "rbt prog load examples/xdp_drop.bpf.o",
        "rbt -j prog show pinned /sys/fs/bpf/xdp_drop | jq .name",
    ]),
    verb("prog", "show", ONE_PROG, &[
        "rbt prog show",
        "rbt prog show id 7",
        "rbt -j prog show pinned /sys/fs/bpf/xdp_drop | jq .name",
    ]),
    verb("prog", "pin", &[Slot::pos("PROG", &[PROG]), Slot::pos("FILE", &[PIN_FILE])], &[
        "rbt prog pin id 7 /sys/fs/bpf/mine",
    ]),
    verb("prog", "dump", DUMP_SLOTS, &[
        "rbt prog dump xlated id 7",
        "rbt prog dump xlated name xdp_pass linum opcodes",
        "rbt prog dump xlated id 7 visual | dot -Tsvg > prog.svg",
        "rbt -j prog dump jited pinned /sys/fs/bpf/xdp_drop",
        "rbt prog dump jited id 7 file prog.bin",
    ]),
    verb("prog", "load", LOAD_SLOTS, &[
        "rbt prog load examples/xdp_drop.bpf.o",
        "rbt prog load drop.o /sys/fs/bpf/drop type xdp map name drop_cnt pinned /sys/fs/bpf/cnt",
        "rbt prog load probes.bpf.o /sys/fs/bpf/probes autoattach",
    ]),
    verb("prog", "run", RUN_SLOTS, &[
        "rbt prog run pinned /sys/fs/bpf/xdp_drop data_in packet.bin repeat 1000",
        "rbt -j prog run id 7 data_in packet.bin data_out out.bin",
    ]),
    verb("prog", "loadall", LOAD_SLOTS, &[
        "rbt prog loadall probes.bpf.o /sys/fs/bpf/probes pinmaps /sys/fs/bpf/probes/maps",
    ]),
    Syntax {
        object: "prog",
        verb: "attach",
        slots: ATTACH_SLOTS,
        groups: &[Group { name: HOOK, required: true }],
        examples: &[
            "rbt prog attach name handle_openat tracepoint syscalls:sys_enter_openat",
            "rbt prog attach pinned /sys/fs/bpf/p uprobe /usr/bin/bash:readline --pin /sys/fs/bpf/rl",
            "rbt prog attach pinned /sys/fs/bpf/o/on_query usdt /usr/sbin/mysqld:mysql:query__start",
            "rbt prog attach id 7 cgroup /sys/fs/cgroup/unified cgroup_inet_ingress",
            "rbt prog attach pinned /sys/fs/bpf/verdict sk_msg_verdict pinned /sys/fs/bpf/sock_map",
            "rbt prog attach name dissect flow_dissector",
        ],
    },
    Syntax {
        object: "prog",
        verb: "detach",
        slots: PROG_DETACH_SLOTS,
        groups: &[Group { name: HOOK, required: true }],
        examples: &[
            "rbt prog detach pinned /sys/fs/bpf/verdict sk_msg_verdict pinned /sys/fs/bpf/sock_map",
            "rbt prog detach name dissect flow_dissector",
        ],
    },
    verb("prog", "top", &[Slot::pos("PROG", &[PROG]).any_number()], &[
        "rbt prog top",
        "rbt prog top name xdp_drop --interval 2s --sort rate",
        "rbt -j prog top --count 5 | jq -c 'select(.runs_per_sec > 0)'",
    ]),
    verb("prog", "profile", PROFILE_SLOTS, &[
        "rbt prog profile id 7 duration 5 cycles instructions",
        "rbt -j prog profile pinned /sys/fs/bpf/xdp_drop duration 2 llc_misses",
        "rbt prog profile name xdp_drop cycles    # until Ctrl-C",
    ]),
    verb("prog", "tracelog", &[], &[
        "rbt prog tracelog",
        "rbt -j prog tracelog --count 10 | jq -r .message",
    ]),
    // ---- map ----
    verb("map", "", &[], &[
        "rbt map show",
        "rbt map dump name flows",
        "rbt -j map dump pinned /sys/fs/bpf/flows | jq '.[] | select(.value.packets > 100)'",
    ]),
    verb("map", "show", ANY_MAP, &[
        "rbt map show",
        "rbt -f map show name flows",
        "rbt -j map show id 42 | jq .max_entries",
    ]),
    verb("map", "dump", ONE_MAP, &[
        "rbt map dump name flows",
        "rbt -j map dump pinned /sys/fs/bpf/flows | jq '.[] | select(.value.packets > 100)'",
        "rbt map dump id 7 --key-type ipv4 --value-type u64",
        "rbt -j map dump id 7 --raw",
    ]),
    Syntax {
        object: "map",
        verb: "update",
        slots: ENTRY_SLOTS,
        groups: FLAG_GROUP,
        examples: &[
            "rbt map update name cnt key 1 0 0 0 value 42 0 0 0 0 0 0 0",
            "rbt map update name flows key '{\"saddr\":16777226,\"proto\":\"PROTO_TCP\"}' value '{\"packets\":0}'",
            "rbt map update pinned /sys/fs/bpf/jmp key 0 0 0 0 value id 17",
            "rbt -j map dump name a | rbt map update name b --from -",
        ],
    },
    verb("map", "lookup", &[Slot::pos("MAP", &[MAP]), Slot::kw(&["key"], &[Value::Bytes("DATA")]).required()], &[
        "rbt map lookup name cnt key 1 0 0 0",
        "rbt map lookup name flows key '{\"saddr\":16777226,\"proto\":\"PROTO_TCP\"}'",
        "rbt -j map lookup id 7 key 10.0.0.1 --key-type ipv4",
    ]),
    verb("map", "getnext", &[Slot::pos("MAP", &[MAP]), Slot::kw(&["key"], &[Value::Bytes("DATA")])], &[
        "rbt map getnext name flows",
        "rbt map getnext id 7 key 1 0 0 0",
    ]),
    verb("map", "delete", &[Slot::pos("MAP", &[MAP]), Slot::kw(&["key"], &[Value::Bytes("DATA")]).required()], &[
        "rbt map delete name cnt key 1 0 0 0",
        "rbt map delete name flows key '{\"saddr\":16777226}'",
        "rbt map delete pinned /sys/fs/bpf/flows --all",
    ]),
    verb("map", "pin", &[Slot::pos("MAP", &[MAP]), Slot::pos("FILE", &[PIN_FILE])], &[
        "rbt map pin id 42 /sys/fs/bpf/flows",
    ]),
    verb("map", "create", CREATE_SLOTS, &[
        "rbt map create /sys/fs/bpf/cnt type hash key 4 value 8 entries 1024 name cnt flags no_prealloc",
        "rbt map create /sys/fs/bpf/outer type array_of_maps key 4 value 4 entries 8 name outer inner_map pinned /sys/fs/bpf/cnt",
    ]),
    verb("map", "peek", &[Slot::pos("MAP", &[MAP]), Slot::kw(&["value"], &[Value::Bytes("VALUE")])], &[
        "rbt map peek pinned /sys/fs/bpf/q",
        "rbt map peek name bloom value 1 0 0 0",
    ]),
    Syntax {
        object: "map",
        verb: "push",
        slots: PUSH_SLOTS,
        groups: FLAG_GROUP,
        examples: &["rbt map push pinned /sys/fs/bpf/stack value 1 0 0 0 0 0 0 0"],
    },
    Syntax {
        object: "map",
        verb: "enqueue",
        slots: PUSH_SLOTS,
        groups: FLAG_GROUP,
        examples: &["rbt map enqueue pinned /sys/fs/bpf/q value 7"],
    },
    verb("map", "pop", ONE_MAP, &["rbt map pop pinned /sys/fs/bpf/stack"]),
    verb("map", "dequeue", ONE_MAP, &["rbt map dequeue pinned /sys/fs/bpf/q"]),
    verb("map", "freeze", ONE_MAP, &["rbt map freeze pinned /sys/fs/bpf/config"]),
    verb("map", "event_pipe", EVENTS_SLOTS, &[
        "rbt map event_pipe name events --count 100",
        "rbt map event_pipe pinned /sys/fs/bpf/events cpu 0 index 0",
        "rbt -j map event_pipe pinned /sys/fs/bpf/events --type 'struct event' --duration 10s",
    ]),
    verb("map", "watch", ONE_MAP, &[
        "rbt map watch name counters",
        "rbt -j map watch pinned /sys/fs/bpf/flows --interval 5s --delta",
        "rbt map watch id 7 --count 10 --delta",
    ]),
    // ---- link ----
    verb("link", "", &[], &["rbt link show", "rbt link detach id 12"]),
    verb("link", "show", ANY_LINK, &[
        "rbt link show",
        "rbt -j link show id 12",
        "rbt -f link show pinned /sys/fs/bpf/opensnoop_link",
    ]),
    verb("link", "pin", &[Slot::pos("LINK", &[LINK]), Slot::pos("FILE", &[PIN_FILE])], &[
        "rbt link pin id 12 /sys/fs/bpf/my_link",
    ]),
    verb("link", "detach", &[Slot::pos("LINK", &[LINK])], &[
        "rbt link detach id 12",
        "rbt link detach pinned /sys/fs/bpf/opensnoop_link",
    ]),
    // ---- perf ----
    verb("perf", "", &[], &["rbt perf show", "rbt -j perf tracelog --count 10 | jq -r .message"]),
    verb("perf", "show", &[], &[
        "rbt perf show",
        "rbt -j perf show | jq '.[] | select(.fd_type == \"tracepoint\")'",
    ]),
    verb("perf", "tracelog", &[], &[
        "rbt perf tracelog",
        "rbt -j perf tracelog --count 10 | jq -r .message",
    ]),
    verb("perf", "events", EVENTS_SLOTS, &[
        "rbt perf events name events --count 100",
        "rbt -j perf events pinned /sys/fs/bpf/events --type 'struct event' --duration 10s",
    ]),
    // ---- net ----
    verb("net", "", &[], &[
        "rbt net show",
        "rbt net attach xdp pinned /sys/fs/bpf/xdp_drop dev veth0",
        "rbt net detach xdp dev veth0",
    ]),
    verb("net", "show", &[Slot::kw(&["dev"], &[IFACE])], &[
        "rbt net show",
        "rbt net show dev veth0",
        "rbt -j net show --netns blue | jq '.[0].xdp'",
    ]),
    verb("net", "attach", NET_SLOTS, &[
        "rbt net attach xdp pinned /sys/fs/bpf/xdp_drop dev veth0",
        "rbt net attach xdp dev veth0                      # the one unattached XDP program",
        "rbt net attach xdpgeneric id 42 dev veth0 overwrite",
        "rbt net attach xdp --link pinned /sys/fs/bpf/xdp_drop dev veth0 dev veth1",
        "rbt net attach tc_ingress pinned /sys/fs/bpf/count dev veth0 prio 1 handle 1",
        "rbt net attach tcx_egress id 7 dev veth0 --before id=6",
        "rbt net attach xdp id 42 dev eth1 --netns blue --dry-run",
    ]),
    verb("net", "detach", NET_DETACH_SLOTS, &[
        "rbt net detach xdp dev veth0",
        "rbt net detach tc_ingress dev veth0 prio 1 handle 1",
        "rbt net detach tcx_ingress id 7 dev veth0 --netns blue",
    ]),
    // ---- metrics ----
    verb("metrics", "", &[], &[
        "rbt metrics print --map name=counts",
        "rbt metrics serve --listen 127.0.0.1:9435 --map name=counts",
    ]),
    verb("metrics", "print", &[], &[
        "rbt metrics print",
        "rbt metrics print --map name=counts --map /sys/fs/bpf/flows",
        "rbt metrics print --histogram name=latency --buckets log2 --bucket-multiplier 1e-6",
    ]),
    verb("metrics", "serve", &[], &[
        "rbt metrics serve --listen 127.0.0.1:9435",
        "rbt metrics serve --listen 0.0.0.0:9435 --map name=counts --max-series 50000",
    ]),
    // ---- cgroup ----
    verb("cgroup", "", &[], &[
        "rbt cgroup show /sys/fs/cgroup/unified/app",
        "rbt cgroup tree",
        "rbt cgroup attach /sys/fs/cgroup/unified/app connect4 pinned /sys/fs/bpf/connect4 multi",
    ]),
    verb("cgroup", "show", &[Slot::pos("CGROUP", &[CGROUP]).optional(), EFFECTIVE], &[
        "rbt cgroup show /sys/fs/cgroup/unified/app",
        "rbt -j cgroup show /sys/fs/cgroup/unified/app effective",
    ]),
    verb("cgroup", "tree", &[Slot::pos("ROOT", &[Value::Text("ROOT", Source::LocalDir)]).optional(), EFFECTIVE], &[
        "rbt cgroup tree",
        "rbt -j cgroup tree /sys/fs/cgroup/unified/app effective",
    ]),
    Syntax {
        object: "cgroup",
        verb: "attach",
        slots: CGROUP_ATTACH_SLOTS,
        groups: &[Group { name: ATTACH_FLAGS, required: false }],
        examples: &[
            "rbt cgroup attach /sys/fs/cgroup/unified/app connect4 pinned /sys/fs/bpf/connect4 multi",
            "rbt cgroup attach /sys/fs/cgroup/unified/app cgroup_inet_egress id 42 replace id 41",
            "rbt cgroup attach /sys/fs/cgroup/unified/app egress id 42 --link --pin /sys/fs/bpf/app_egress",
        ],
    },
    verb("cgroup", "detach", CGROUP_DETACH_SLOTS, &[
        "rbt cgroup detach /sys/fs/cgroup/unified/app connect4 pinned /sys/fs/bpf/connect4",
    ]),
    // ---- struct_ops ----
    verb("struct_ops", "", &[], &[
        "rbt struct_ops register cc.bpf.o /sys/fs/bpf/cc",
        "rbt struct_ops show",
        "rbt struct_ops unregister name my_cc",
    ]),
    verb("struct_ops", "show", ANY_MAP, &[
        "rbt struct_ops show",
        "rbt -j struct_ops show id 42",
        "rbt struct_ops show name my_cc",
    ]),
    verb("struct_ops", "dump", ANY_MAP, &[
        "rbt struct_ops dump name my_cc",
        "rbt -j struct_ops dump | jq '.[1]'",
    ]),
    verb("struct_ops", "register", &[
        Slot::pos("OBJ", &[LOCAL_FILE_OBJ]),
        Slot::pos("LINK_DIR", &[Value::Text("LINK_DIR", Source::BpffsDir)]).optional(),
    ], &[
        "rbt struct_ops register cc.bpf.o",
        "rbt struct_ops register cc.bpf.o /sys/fs/bpf/cc",
        "rbt -j struct_ops register cc.bpf.o | jq '.[].id'",
    ]),
    verb("struct_ops", "unregister", ONE_MAP, &[
        "rbt struct_ops unregister name my_cc",
        "rbt struct_ops unregister id 42",
    ]),
    // ---- feature, version ----
    verb("feature", "", &[], &[
        "rbt feature probe",
        "rbt -j feature probe | jq .live_probes",
    ]),
    Syntax {
        object: "feature",
        verb: "probe",
        slots: FEATURE_PROBE_SLOTS,
        groups: &[Group { name: "COMPONENT", required: false }],
        examples: &[
            "rbt feature probe",
            "rbt -j feature probe kernel | jq .program_types",
            "rbt feature probe kernel macros prefix BPF_ > bpf_features.h",
            "rbt -j feature probe unprivileged | jq .map_types",
            "rbt -j feature probe dev eth0",
        ],
    },
    verb("version", "", &[], &["rbt version", "rbt -j version | jq .libbpf_version"]),
    // ---- btf ----
    verb("btf", "", &[], &[
        "rbt btf show",
        "rbt btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h",
    ]),
    verb("btf", "show", &[Slot::kw(&["id"], &[Value::Number("ID")])], &[
        "rbt btf show",
        "rbt -j btf show id 1 | jq .size",
    ]),
    Syntax {
        object: "btf",
        verb: "dump",
        slots: BTF_DUMP_SLOTS,
        groups: &[
            Group { name: BTF_SOURCE, required: true },
            Group { name: BTF_PART, required: false },
        ],
        examples: &[
            "rbt btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h",
            "rbt -j btf dump id 1 root_id 114",
            "rbt btf dump map name flows value format c",
            "rbt btf dump prog id 7",
            "rbt -B /sys/kernel/btf/vmlinux btf dump file /sys/kernel/btf/nf_tables",
        ],
    },
    // ---- completions, man ----
    verb("completions", "", &[Slot::pos("SHELL", &[Value::Choice("SHELL", ShellName::WORDS)])], &[
        "rbt completions bash > ~/.local/share/bash-completion/completions/rbt",
        "rbt completions zsh > ~/.zfunc/_rbt",
        "rbt completions fish > ~/.config/fish/completions/rbt.fish",
    ]),
    verb("man", "", &[Slot::pos("DIR", &[Value::Text("DIR", Source::LocalDir)])], &[
        "rbt man ~/.local/share/man/man1 && man rbt-prog-load",
    ]),
];

/// The entry of `rbt OBJECT VERB` (`list` is `show`); VERB empty for the object itself.
pub fn syntax(object: &str, verb: &str) -> Option<&'static Syntax> {
    let verb = if verb == "list" { "show" } else { verb };
    TABLE.iter().find(|s| s.object == object && s.verb == verb)
}

#[cfg(test)]
pub fn all() -> &'static [Syntax] {
    TABLE
}
