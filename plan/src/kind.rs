//! Stage kinds and what is true of each, written once. The compiler decides a
//! stage's kind and the keys it takes from this table; the model and the plan
//! name their kinds through it (`StageKind::kind`, [`StageKindPlan::kind`]);
//! messages, checks and the runtime read its facts (which kinds retry, which need
//! embedded Python or Docker) here.
//!
//! [`StageKindPlan::kind`]: crate::StageKindPlan::kind

crate::listed_enum! {
    /// A stage kind. The model's `StageKind` and the plan's `StageKindPlan` have
    /// one variant per kind, each mapped to it by their `kind()`; `Kind::ALL` lists
    /// them in the order of the plan's variants.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum Kind {
        Empty,
        Bash,
        Py,
        VirtualPy,
        Call,
        Trigger,
        Parallel,
        ForEach,
        Until,
        Case,
        Raise,
        Docker,
    }
}

/// One row of the table: yes-or-no facts are what it is for.
#[allow(clippy::struct_excessive_bools)]
struct Facts {
    name: &'static str,
    selected_by: &'static [&'static str],
    refines: Option<Kind>,
    keys: &'static [&'static str],
    retries: bool,
    needs_python: bool,
    needs_docker: bool,
    has_children: bool,
}

/// The keys every stage takes, whatever its kind.
pub const COMMON_KEYS: &[&str] = &["name", "id", "desc", "if", "extras", "timeout"];

/// The key of a stage's number of retries, taken by the kinds that [retry](Kind::retries).
pub const RETRY_KEY: &str = "retry";

impl Kind {
    /// The kinds a stage's keys select, in upstream's order of precedence: a stage
    /// with the keys of several is the first of them (and an error in wfc). Kinds
    /// that [refine](Kind::refines) another are decided after it; a stage no key
    /// selects is [`Kind::Empty`].
    pub const PRECEDENCE: [Kind; 10] = [
        Kind::ForEach,
        Kind::Until,
        Kind::Parallel,
        Kind::Case,
        Kind::Trigger,
        Kind::Bash,
        Kind::Call,
        Kind::Py,
        Kind::Raise,
        Kind::Docker,
    ];

    /// The table.
    const fn facts(self) -> &'static Facts {
        const NONE: Facts = Facts {
            name: "",
            selected_by: &[],
            refines: None,
            keys: &[],
            retries: false,
            needs_python: false,
            needs_docker: false,
            has_children: false,
        };
        match self {
            Kind::Empty => &Facts {
                name: "empty",
                keys: &["echo", "sleep"],
                ..NONE
            },
            Kind::Bash => &Facts {
                name: "bash",
                selected_by: &["bash"],
                keys: &["bash", "env"],
                retries: true,
                ..NONE
            },
            Kind::Py => &Facts {
                name: "python",
                selected_by: &["run"],
                keys: &["run", "vars"],
                retries: true,
                needs_python: true,
                ..NONE
            },
            Kind::VirtualPy => &Facts {
                name: "virtual python",
                selected_by: &["deps"],
                refines: Some(Kind::Py),
                keys: &["run", "vars", "deps", "version"],
                retries: true,
                ..NONE
            },
            Kind::Call => &Facts {
                name: "call",
                selected_by: &["uses"],
                keys: &["uses", "with"],
                retries: true,
                needs_python: true,
                ..NONE
            },
            Kind::Trigger => &Facts {
                name: "trigger",
                selected_by: &["trigger"],
                keys: &["trigger", "params"],
                retries: true,
                ..NONE
            },
            Kind::Parallel => &Facts {
                name: "parallel",
                selected_by: &["parallel"],
                keys: &["parallel", "max-workers"],
                has_children: true,
                ..NONE
            },
            Kind::ForEach => &Facts {
                name: "foreach",
                selected_by: &["foreach"],
                keys: &["foreach", "stages", "concurrent", "use_index_as_key"],
                has_children: true,
                ..NONE
            },
            Kind::Until => &Facts {
                name: "until",
                selected_by: &["until"],
                keys: &["until", "item", "stages", "max-loop"],
                has_children: true,
                ..NONE
            },
            Kind::Case => &Facts {
                name: "case",
                selected_by: &["case", "match"],
                keys: &["case", "match", "skip-not-match"],
                has_children: true,
                ..NONE
            },
            Kind::Raise => &Facts {
                name: "raise",
                selected_by: &["raise"],
                keys: &["raise"],
                ..NONE
            },
            Kind::Docker => &Facts {
                name: "docker",
                selected_by: &["image"],
                keys: &["image", "tag", "env", "volume", "auth", "command"],
                retries: true,
                needs_docker: true,
                ..NONE
            },
        }
    }

    /// The kind's name in messages, plans and graphs ("virtual python").
    #[must_use]
    pub const fn name(self) -> &'static str {
        self.facts().name
    }

    /// The keys that make a stage this kind, any one of them; none for
    /// [`Kind::Empty`]. For a kind that [refines](Kind::refines) another, the
    /// keys that make a stage of that kind this one.
    #[must_use]
    pub const fn selected_by(self) -> &'static [&'static str] {
        self.facts().selected_by
    }

    /// The kind whose stages are this kind when they also have one of
    /// [`selected_by`](Kind::selected_by): `run` with `deps` is a virtual python
    /// stage. Such a kind is not in [`Kind::PRECEDENCE`]: its keys select the
    /// kind it refines.
    #[must_use]
    pub const fn refines(self) -> Option<Kind> {
        self.facts().refines
    }

    /// The keys a stage of this kind takes besides the [common](COMMON_KEYS) ones,
    /// in the order messages list them (`retry` last, for kinds that retry).
    pub fn keys(self) -> impl Iterator<Item = &'static str> + Clone {
        let facts = self.facts();
        facts
            .keys
            .iter()
            .copied()
            .chain(facts.retries.then_some(RETRY_KEY))
    }

    /// This kind takes `key` (besides the common keys).
    #[must_use]
    pub fn takes(self, key: &str) -> bool {
        self.keys().any(|k| k == key)
    }

    /// Stages of this kind take `retry` and are run again when they fail.
    #[must_use]
    pub const fn retries(self) -> bool {
        self.facts().retries
    }

    /// Stages of this kind run in embedded CPython: only a runtime built with
    /// Python (`wfr-python`, feature `python`) runs them.
    #[must_use]
    pub const fn needs_python(self) -> bool {
        self.facts().needs_python
    }

    /// Stages of this kind talk to the Docker engine: only a runtime built with
    /// the `docker` feature runs them.
    #[must_use]
    pub const fn needs_docker(self) -> bool {
        self.facts().needs_docker
    }

    /// Stages of this kind hold stage lists (branches, loop bodies, arms).
    #[must_use]
    pub const fn has_children(self) -> bool {
        self.facts().has_children
    }

    /// Stages of this kind run stages themselves: their own lists, or a whole
    /// child run (a trigger). The runtime runs them where the stack has room.
    #[must_use]
    pub fn nests(self) -> bool {
        self.has_children() || self == Kind::Trigger
    }

    /// The kinds a stage this kind's keys select can be: this kind, then those
    /// that refine it.
    pub fn family(self) -> impl Iterator<Item = Kind> + Clone {
        std::iter::once(self).chain(
            Kind::ALL
                .into_iter()
                .filter(move |k| k.refines() == Some(self)),
        )
    }

    /// The kind of a stage this kind's keys selected, given which keys it has:
    /// the kind that refines this one when the stage has one of its keys.
    #[must_use]
    pub fn refine(self, has: impl Fn(&str) -> bool) -> Kind {
        self.family()
            .skip(1)
            .find(|k| k.selected_by().iter().any(|key| has(key)))
            .unwrap_or(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_distinct_name_and_ordered_keys() {
        let mut names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        assert!(names.iter().all(|n| !n.is_empty()));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Kind::ALL.len());
        for kind in Kind::ALL {
            let keys: Vec<&str> = kind.keys().collect();
            for (i, key) in keys.iter().enumerate() {
                assert!(!keys[..i].contains(key), "{kind:?} lists `{key}` twice");
                assert!(!COMMON_KEYS.contains(key), "{kind:?}: `{key}` is common");
            }
            assert_eq!(kind.takes(RETRY_KEY), kind.retries(), "{kind:?}");
            assert!(
                kind.selected_by().iter().all(|k| kind.takes(k)),
                "{kind:?} is selected by a key it does not take"
            );
        }
    }

    #[test]
    fn precedence_holds_each_selected_kind_once() {
        for kind in Kind::ALL {
            let places = Kind::PRECEDENCE.iter().filter(|&&k| k == kind).count();
            let selected = !kind.selected_by().is_empty() && kind.refines().is_none();
            assert_eq!(places, usize::from(selected), "{kind:?}");
        }
        // A key selects one kind.
        let mut keys: Vec<&str> = Kind::ALL
            .iter()
            .flat_map(|k| k.selected_by())
            .copied()
            .collect();
        keys.sort_unstable();
        let before = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), before);
    }

    #[test]
    fn refinements_are_decided_by_their_keys() {
        assert_eq!(Kind::Py.refine(|k| k == "deps"), Kind::VirtualPy);
        assert_eq!(Kind::Py.refine(|k| k == "run"), Kind::Py);
        assert_eq!(Kind::Bash.refine(|_| true), Kind::Bash);
        let py: Vec<Kind> = Kind::Py.family().collect();
        assert_eq!(py, [Kind::Py, Kind::VirtualPy]);
        for kind in Kind::ALL {
            if let Some(base) = kind.refines() {
                assert!(Kind::PRECEDENCE.contains(&base), "{kind:?}");
                assert_eq!(base.retries(), kind.retries(), "{kind:?}");
            }
        }
    }

    /// One plan stage of `kind`, with one stage in each list it holds.
    fn sample(kind: Kind) -> crate::StageKindPlan {
        use crate::expr::ast::Template;
        use crate::{
            ArmPlan, Bound, CondPlan, DockerPlan, Items, PlanMap, PlanValue, StageKindPlan,
            StagePlan,
        };
        let t = || Template::literal("x");
        let body = || {
            vec![StagePlan {
                name: t(),
                id: None,
                desc: None,
                cond: None,
                timeout: None,
                retry: 0,
                extras: None,
                kind: StageKindPlan::Raise { message: t() },
            }]
        };
        match kind {
            Kind::Empty => StageKindPlan::Empty {
                echo: None,
                sleep: 0.0,
            },
            Kind::Bash => StageKindPlan::Bash {
                script: t(),
                env: PlanMap::default(),
            },
            Kind::Py => StageKindPlan::Py {
                run: t(),
                vars: PlanMap::default(),
            },
            Kind::VirtualPy => StageKindPlan::VirtualPy {
                run: t(),
                vars: PlanMap::default(),
                deps: Vec::new(),
                version: None,
            },
            Kind::Call => StageKindPlan::Call {
                uses: t(),
                args: PlanMap::default(),
            },
            Kind::Trigger => StageKindPlan::Trigger {
                workflow: t(),
                params: PlanMap::default(),
            },
            Kind::Parallel => StageKindPlan::Parallel {
                branches: vec![("a".to_string(), body())],
                max_workers: Bound::Fixed(1),
            },
            Kind::ForEach => StageKindPlan::ForEach {
                items: Items::List(Vec::new()),
                stages: body(),
                concurrent: 1,
                use_index_as_key: false,
            },
            Kind::Until => StageKindPlan::Until {
                item: PlanValue::Int(0),
                until: CondPlan::Bool(true),
                stages: body(),
                max_loop: 1,
            },
            Kind::Case => StageKindPlan::Case {
                case: t(),
                arms: vec![ArmPlan {
                    case: None,
                    stages: body(),
                }],
                skip_not_match: false,
            },
            Kind::Raise => StageKindPlan::Raise { message: t() },
            Kind::Docker => StageKindPlan::Docker(DockerPlan {
                image: t(),
                tag: t(),
                env: PlanMap::default(),
                volume: Vec::new(),
                auth: PlanMap::default(),
                command: None,
            }),
        }
    }

    /// Every kind of the table is a variant of the plan and back (`kind()` is a
    /// match over the variants, so a variant without a kind does not compile),
    /// and the plan's walk finds stage lists in exactly the kinds that have them.
    #[test]
    fn every_kind_is_a_plan_variant_and_back() {
        for kind in Kind::ALL {
            let plan = sample(kind);
            assert_eq!(plan.kind(), kind);
            assert_eq!(plan.name(), kind.name());
            let stage = crate::StagePlan {
                name: crate::expr::ast::Template::literal("s"),
                id: None,
                desc: None,
                cond: None,
                timeout: None,
                retry: 0,
                extras: None,
                kind: plan,
            };
            assert_eq!(
                !stage.children().is_empty(),
                kind.has_children(),
                "{kind:?}"
            );
        }
    }
}
