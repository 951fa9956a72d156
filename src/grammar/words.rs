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
    }
}
