// Closed lists of words (attach types, update flags, shells): each a Rust enum defined once,
// whose word list feeds the grammar table, the parser and completion.

/// An enum whose variants are spelled by fixed words.
pub trait Word: Sized + Copy + 'static {
    const WORDS: &'static [&'static str];
    const ALL: &'static [Self];
    fn word(self) -> &'static str;
    fn from_word(word: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.word() == word)
    }
}

macro_rules! word_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl Word for $name {
            const WORDS: &'static [&'static str] = &[$($word),+];
            const ALL: &'static [Self] = &[$($name::$variant),+];
            fn word(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }
        }
    };
}

word_enum! {
    /// Where `net attach` puts a program.
    pub enum NetAttachType {
        Xdp = "xdp",
        XdpGeneric = "xdpgeneric",
        XdpDrv = "xdpdrv",
        XdpOffload = "xdpoffload",
        TcIngress = "tc_ingress",
        TcEgress = "tc_egress",
        TcxIngress = "tcx_ingress",
        TcxEgress = "tcx_egress",
    }
}

/// A closed list whose variants have a canonical word (libbpf's name, what bpftool 7 prints)
/// and optionally a legacy word (bpftool's older name), both accepted; `$code` is the
/// kernel's number for the variant.
macro_rules! word_enum_with_legacy {
    ($(#[$meta:meta])* pub enum $name:ident {
        $($variant:ident = $word:literal $(| $legacy:literal)? => $code:expr),+ $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant),+ }

        impl Word for $name {
            const WORDS: &'static [&'static str] = &[$($word,)+ $($($legacy,)?)+];
            const ALL: &'static [Self] = &[$($name::$variant),+];
            fn word(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }
            fn from_word(word: &str) -> Option<Self> {
                match word {
                    $($word $(| $legacy)? => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl $name {
            /// The kernel's number (BPF_*) of this attach type.
            pub fn code(self) -> u32 {
                match self { $($name::$variant => $code),+ }
            }
        }
    };
}

word_enum_with_legacy! {
    /// Where `cgroup attach` puts a program, in the kernel's order (bpftool shows them so).
    pub enum CgroupAttachType {
        Ingress = "cgroup_inet_ingress" | "ingress" => libbpf_sys::BPF_CGROUP_INET_INGRESS,
        Egress = "cgroup_inet_egress" | "egress" => libbpf_sys::BPF_CGROUP_INET_EGRESS,
        SockCreate = "cgroup_inet_sock_create" | "sock_create" => libbpf_sys::BPF_CGROUP_INET_SOCK_CREATE,
        SockOps = "cgroup_sock_ops" | "sock_ops" => libbpf_sys::BPF_CGROUP_SOCK_OPS,
        Device = "cgroup_device" | "device" => libbpf_sys::BPF_CGROUP_DEVICE,
        Bind4 = "cgroup_inet4_bind" | "bind4" => libbpf_sys::BPF_CGROUP_INET4_BIND,
        Bind6 = "cgroup_inet6_bind" | "bind6" => libbpf_sys::BPF_CGROUP_INET6_BIND,
        Connect4 = "cgroup_inet4_connect" | "connect4" => libbpf_sys::BPF_CGROUP_INET4_CONNECT,
        Connect6 = "cgroup_inet6_connect" | "connect6" => libbpf_sys::BPF_CGROUP_INET6_CONNECT,
        PostBind4 = "cgroup_inet4_post_bind" | "post_bind4" => libbpf_sys::BPF_CGROUP_INET4_POST_BIND,
        PostBind6 = "cgroup_inet6_post_bind" | "post_bind6" => libbpf_sys::BPF_CGROUP_INET6_POST_BIND,
        Sendmsg4 = "cgroup_udp4_sendmsg" | "sendmsg4" => libbpf_sys::BPF_CGROUP_UDP4_SENDMSG,
        Sendmsg6 = "cgroup_udp6_sendmsg" | "sendmsg6" => libbpf_sys::BPF_CGROUP_UDP6_SENDMSG,
        Sysctl = "cgroup_sysctl" | "sysctl" => libbpf_sys::BPF_CGROUP_SYSCTL,
        Recvmsg4 = "cgroup_udp4_recvmsg" | "recvmsg4" => libbpf_sys::BPF_CGROUP_UDP4_RECVMSG,
        Recvmsg6 = "cgroup_udp6_recvmsg" | "recvmsg6" => libbpf_sys::BPF_CGROUP_UDP6_RECVMSG,
        Getsockopt = "cgroup_getsockopt" | "getsockopt" => libbpf_sys::BPF_CGROUP_GETSOCKOPT,
        Setsockopt = "cgroup_setsockopt" | "setsockopt" => libbpf_sys::BPF_CGROUP_SETSOCKOPT,
        Getpeername4 = "cgroup_inet4_getpeername" | "getpeername4" => libbpf_sys::BPF_CGROUP_INET4_GETPEERNAME,
        Getpeername6 = "cgroup_inet6_getpeername" | "getpeername6" => libbpf_sys::BPF_CGROUP_INET6_GETPEERNAME,
        Getsockname4 = "cgroup_inet4_getsockname" | "getsockname4" => libbpf_sys::BPF_CGROUP_INET4_GETSOCKNAME,
        Getsockname6 = "cgroup_inet6_getsockname" | "getsockname6" => libbpf_sys::BPF_CGROUP_INET6_GETSOCKNAME,
        SockRelease = "cgroup_inet_sock_release" | "sock_release" => libbpf_sys::BPF_CGROUP_INET_SOCK_RELEASE,
        LsmCgroup = "lsm_cgroup" => libbpf_sys::BPF_LSM_CGROUP,
        UnixConnect = "cgroup_unix_connect" => libbpf_sys::BPF_CGROUP_UNIX_CONNECT,
        UnixSendmsg = "cgroup_unix_sendmsg" => libbpf_sys::BPF_CGROUP_UNIX_SENDMSG,
        UnixRecvmsg = "cgroup_unix_recvmsg" => libbpf_sys::BPF_CGROUP_UNIX_RECVMSG,
        UnixGetpeername = "cgroup_unix_getpeername" => libbpf_sys::BPF_CGROUP_UNIX_GETPEERNAME,
        UnixGetsockname = "cgroup_unix_getsockname" => libbpf_sys::BPF_CGROUP_UNIX_GETSOCKNAME,
    }
}

impl CgroupAttachType {
    /// The program type the kernel takes for this attach type (bpftool's name).
    pub fn prog_type(self) -> &'static str {
        use CgroupAttachType::*;
        match self {
            Ingress | Egress => "cgroup_skb",
            SockCreate | SockRelease | PostBind4 | PostBind6 => "cgroup_sock",
            SockOps => "sock_ops",
            Device => "cgroup_device",
            Sysctl => "cgroup_sysctl",
            Getsockopt | Setsockopt => "cgroup_sockopt",
            LsmCgroup => "lsm",
            _ => "cgroup_sock_addr",
        }
    }
}

word_enum! {
    /// How `cgroup attach` shares the hook: bpftool's ATTACH_FLAGS.
    pub enum CgroupAttachFlag {
        Multi = "multi",
        Override = "override",
    }
}

word_enum_with_legacy! {
    /// The map-attached (and netns) types of `prog attach PROG ATTACH_TYPE [MAP]`.
    pub enum MapAttachType {
        SkMsgVerdict = "sk_msg_verdict" => libbpf_sys::BPF_SK_MSG_VERDICT,
        SkSkbVerdict = "sk_skb_verdict" => libbpf_sys::BPF_SK_SKB_VERDICT,
        SkSkbStreamVerdict = "sk_skb_stream_verdict" => libbpf_sys::BPF_SK_SKB_STREAM_VERDICT,
        SkSkbStreamParser = "sk_skb_stream_parser" => libbpf_sys::BPF_SK_SKB_STREAM_PARSER,
        FlowDissector = "flow_dissector" => libbpf_sys::BPF_FLOW_DISSECTOR,
    }
}

impl MapAttachType {
    /// The program type the kernel takes for this attach type (bpftool's name).
    pub fn prog_type(self) -> &'static str {
        match self {
            MapAttachType::SkMsgVerdict => "sk_msg",
            MapAttachType::FlowDissector => "flow_dissector",
            _ => "sk_skb",
        }
    }
}

word_enum! {
    /// Which code `prog dump` prints.
    pub enum DumpCode {
        Xlated = "xlated",
        Jited = "jited",
    }
}

word_enum! {
    /// `map update` flags: BPF_ANY, BPF_NOEXIST, BPF_EXIST.
    #[derive(Default)]
    pub enum UpdateFlag {
        #[default]
        Any = "any",
        Exist = "exist",
        NoExist = "noexist",
    }
}

word_enum! {
    /// What `prog top --sort` orders programs by.
    #[derive(Default)]
    pub enum TopSort {
        /// Total run time since load.
        Runtime = "runtime",
        /// Runs per second in the last interval.
        Rate = "rate",
        /// Nanoseconds per run in the last interval.
        Avg = "avg",
        /// Share of CPU in the last interval.
        #[default]
        Cpu = "cpu",
    }
}

word_enum! {
    /// `btf dump ... format F`: bpftool's raw listing, or a C header.
    #[derive(Default)]
    pub enum BtfFormat {
        #[default]
        Raw = "raw",
        C = "c",
    }
}

word_enum! {
    /// The shells `rbt completions` writes scripts for.
    pub enum ShellName {
        Bash = "bash",
        Zsh = "zsh",
        Fish = "fish",
        Elvish = "elvish",
        PowerShell = "powershell",
    }
}

impl ShellName {
    pub fn shell(self) -> clap_complete::Shell {
        match self {
            ShellName::Bash => clap_complete::Shell::Bash,
            ShellName::Zsh => clap_complete::Shell::Zsh,
            ShellName::Fish => clap_complete::Shell::Fish,
            ShellName::Elvish => clap_complete::Shell::Elvish,
            ShellName::PowerShell => clap_complete::Shell::PowerShell,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for t in NetAttachType::ALL {
            assert_eq!(NetAttachType::from_word(t.word()), Some(*t));
        }
        assert_eq!(UpdateFlag::from_word("noexist"), Some(UpdateFlag::NoExist));
        assert_eq!(UpdateFlag::from_word("never"), None);
        assert_eq!(ShellName::WORDS.len(), ShellName::ALL.len());
        for t in CgroupAttachType::ALL {
            assert_eq!(CgroupAttachType::from_word(t.word()), Some(*t));
        }
        assert_eq!(
            CgroupAttachType::from_word("connect4"),
            Some(CgroupAttachType::Connect4)
        );
        assert_eq!(CgroupAttachType::from_word("connect5"), None);
        assert_eq!(
            MapAttachType::from_word("sk_msg_verdict").map(MapAttachType::code),
            Some(libbpf_sys::BPF_SK_MSG_VERDICT)
        );
    }
}
