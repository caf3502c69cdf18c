//! The stable diagnostic codes, with what each one means (`wfc check --explain CODE`).

use super::Severity;

macro_rules! codes {
    ($( $variant:ident = $id:literal, $name:literal, $severity:ident, $summary:literal, $explain:literal; )*) => {
        /// A stable diagnostic code. The id (`WF101`) and the name (`unknown-key`) never change meaning.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        pub enum Code { $($variant,)* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The short id, e.g. `WF101`.
            #[must_use]
            pub fn id(self) -> &'static str {
                match self { $(Code::$variant => $id,)* }
            }

            /// The kebab-case name, e.g. `unknown-key`.
            #[must_use]
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// The severity diagnostics of this code have.
            #[must_use]
            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity,)* }
            }

            /// One line saying what the code is about.
            #[must_use]
            pub fn summary(self) -> &'static str {
                match self { $(Code::$variant => $summary,)* }
            }

            /// The long explanation printed by `wfc check --explain`.
            #[must_use]
            pub fn explanation(self) -> &'static str {
                match self { $(Code::$variant => $explain,)* }
            }
        }
    };
}

codes! {
    Internal = "WF000", "internal-error", Error,
        "wfc failed on this input",
        "wfc itself failed while reading this file. This is a bug in wfc: please report it with the file attached.";
    YamlSyntax = "WF001", "yaml-syntax", Error,
        "the file is not valid YAML",
        "The YAML parser stopped at this place. Nothing else in the file can be checked until it parses.\n\nCommon causes: a tab used for indentation, a missing space after `:`, an unclosed quote or bracket, or `key: value: more` (quote the value).";
    DuplicateKey = "WF002", "duplicate-key", Error,
        "a mapping has the same key twice",
        "YAML mappings must not repeat a key. ddeutil-workflow's loader keeps the last one silently; wfc reports it because one of the two values is always lost.\n\nRemove or rename one of the keys.";
    NotAWorkflow = "WF003", "not-a-workflow", Error,
        "the file cannot hold workflows",
        "A workflow file is either a mapping `NAME: {type: Workflow, ...}` (any number of workflows) or one workflow with a top-level `name:`. This file's top level is neither, so nothing in it can be loaded; or the file was named on the command line but holds no entry with `type: Workflow`. (In a folder, files without workflows are skipped quietly: other tools keep their configuration beside workflows.)";
    IgnoredEntry = "WF004", "ignored-entry", Warning,
        "a top-level entry looks like a workflow but will be ignored",
        "Only top-level entries with `type: Workflow` are workflows; others are ignored so that other tools can keep their configuration beside workflows. This entry has workflow keys (such as `jobs`) but no `type: Workflow`, so it will never run.\n\nAdd `type: Workflow`, or remove the entry.";
    UnreadableFile = "WF005", "unreadable-file", Warning,
        "an entry of a workflow folder that cannot be read",
        "A folder's `*.yml` / `*.yaml` files are loaded as workflow files. This entry was skipped because it cannot be read as one: a FIFO, a socket or a device, a symbolic link to nothing (an editor's or a removed file's leftover), a folder that cannot be listed. Any other dangling symbolic link in the folder is reported too. A symbolic link to a folder outside the folder being checked is not followed (it would load files from elsewhere, and a link to `/` would walk the whole machine), and is reported here; a link to a folder inside it is skipped quietly, since its files are found where they are.\n\nRemove the entry or fix the link, or list it in the folder's `.confignore`. A path named on the command line that cannot be read is an error (exit status 2), not this warning.";
    FileTooLarge = "WF006", "file-too-large", Error,
        "a workflow file larger than wfc loads",
        "Workflow files are loaded whole, so their size is bounded: 16 MiB. A larger file is not loaded (its workflows do not exist for the check, the compiler or the runtime), which usually means it is not a workflow file at all, or that it was generated and should be split.\n\nSplit the workflows over several files, or list the file in `.confignore`.";
    UnknownKey = "WF101", "unknown-key", Error,
        "a key that this object does not have",
        "ddeutil-workflow ignores unknown keys silently, so a typo (`ecoh:` for `echo:`) changes what a workflow does without any error. wfc rejects them.\n\nFix the spelling (the help names the closest key), or remove the key.";
    WrongType = "WF102", "wrong-type", Error,
        "a value of the wrong type",
        "The value has a YAML type that this key does not take, e.g. a list where a string is expected. Quote scalars that YAML would otherwise read as numbers or booleans.";
    MissingKey = "WF103", "missing-key", Error,
        "a required key is missing",
        "This object needs the named key: every stage needs `name`, a case stage needs `match`, a choice param needs `options`, and so on.";
    AmbiguousStage = "WF104", "ambiguous-stage", Error,
        "a stage has the keys of several stage kinds",
        "A stage's kind is chosen by which keys it has (`bash` makes a Bash stage, `run` a Python stage, `foreach` a ForEach stage...). This stage has the deciding keys of more than one kind; ddeutil-workflow would pick one silently and ignore the rest.\n\nSplit it into one stage per kind.";
    MisplacedKey = "WF105", "misplaced-key", Error,
        "a key that belongs to another stage kind",
        "The key is valid on some stage kind, but not on the kind this stage is (decided by its keys). For example `env` belongs to Bash and Docker stages, `deps` needs `run`, `stages` needs `foreach` or `until`.\n\nAdd the key that makes the intended kind, or remove this key.";
    OutOfBounds = "WF106", "out-of-bounds", Error,
        "a number outside its allowed range",
        "Bounds: `sleep` 0 <= s < 1800, `max-workers` 1 <= n < 20, foreach `concurrent` 1 <= n < 10, until `max-loop` 1 <= n < 100, `retry` 0 <= n < 20, job `max-parallel` 1 <= n < 10, `timeout` > 0 and at most 30 days. ddeutil-workflow turns such a stage into an empty stage that does nothing; wfc rejects it.\n\nA matrix makes at most 256 strategies after `exclude` and `include` (its keys at most 65,536 combinations before `exclude`): a few keys of ten values each would make millions of jobs.";
    InvalidValue = "WF107", "invalid-value", Error,
        "a value that this key does not accept",
        "The value is of the right type but not one of the accepted values, e.g. a `trigger-rule` that does not exist.";
    InvalidDefault = "WF108", "invalid-default", Error,
        "a param default that does not fit the param's type",
        "A param's `default` must be a value of its `type`: an integer for `int`, an ISO date (`2024-01-31`) for `date`, a mapping for `map`, one of the `options` for `choice`...";
    TemplateNotAllowed = "WF109", "template-not-allowed", Error,
        "a template where templates are not allowed",
        "Workflow names and job ids must be literal. Stage `name` and `id` may only use `${{ matrix.* }}` templates, because they are resolved before the stage runs.";
    StageNotAllowed = "WF110", "stage-not-allowed", Error,
        "a stage kind that cannot be nested here",
        "Until stages cannot contain Parallel stages (ddeutil-workflow turns such a stage into an empty one). Move the parallel stage into a ForEach or Case stage, or out of the loop.";
    DuplicateWorkflow = "WF201", "duplicate-workflow", Error,
        "two workflows with one name",
        "Workflow names are global across all loaded files. ddeutil-workflow silently takes the most recently modified file; wfc reports both places.\n\nRename one of them.";
    DuplicateJob = "WF202", "duplicate-job", Error,
        "two jobs with one id",
        "Job ids are the keys of `jobs` and must be unique in a workflow; YAML would keep only one of them.";
    DuplicateStageId = "WF203", "duplicate-stage-id", Error,
        "two stages with one id in the same scope",
        "Stage outputs are stored under `stages.<id>`, so two stages in one list with the same id overwrite each other. In a job's own list a stage without `id` is identified by its `name`, so two such stages need different names (or ids).";
    UnknownNeed = "WF301", "unknown-need", Error,
        "`needs` names a job that does not exist",
        "Every entry in a job's `needs` must be the id of another job in the same workflow.";
    NeedsCycle = "WF302", "needs-cycle", Error,
        "jobs that need each other in a cycle",
        "A job can only start when all its `needs` have finished, so jobs that need each other in a loop can never start. ddeutil-workflow waits until its timeout (one hour by default); wfc reports the cycle.\n\nRemove one of the `needs` edges on the path shown.";
    UnknownWorkflow = "WF303", "unknown-workflow", Error,
        "`trigger` names a workflow that does not exist",
        "A trigger stage runs another workflow by name; no loaded file defines a workflow with this name. When the name is a template, wfc checks every name it can produce (choice params, static matrix values) or, failing that, that some workflow matches its pattern.";
    TriggerCycle = "WF304", "trigger-cycle", Error,
        "workflows that trigger each other in a cycle",
        "A workflow that triggers itself, directly or through other workflows, never ends. Break the cycle on the path shown.";
    MissingTriggerParam = "WF305", "missing-trigger-param", Error,
        "a trigger does not pass a required param of the workflow it runs",
        "The triggered workflow declares this param as required (a `choice` param or `required: true`) and has no default for it, so the child run would fail before it starts. Pass it under the trigger's `params`.";
    UnknownTriggerParam = "WF306", "unknown-trigger-param", Warning,
        "a trigger passes a param the workflow it runs does not declare",
        "The triggered workflow does not declare this param, so nothing in it can use the value. It is probably misspelt.";
    DuplicateNeed = "WF307", "duplicate-need", Error,
        "`needs` names a job twice",
        "Each job in `needs` is waited for once. ddeutil-workflow counts a repeated need as a job that never finishes, and waits until its timeout (one hour by default).\n\nRemove the repeated entry.";
    TemplateSyntax = "WF401", "template-syntax", Error,
        "a `${{ }}` template that does not parse",
        "A template is `${{ path | filter | filter(arg) }}`: a dotted path (segments may contain `-`, `?` makes a segment optional) and optional filters. To write a literal `${{`, escape the dollar: `$${{`.\n\nFilter arguments nest at most 32 levels deep (lists in lists).";
    ExpressionSyntax = "WF402", "expression-syntax", Error,
        "a condition that does not parse",
        "`if` and `until` are expressions in wfc's safe expression language, never Python `eval`: literals, paths (`params.x`, `stages.a.outputs.b`), `${{ }}` templates as values, `== != < <= > >=`, `in`, `not in`, `and or not`, arithmetic, parentheses and filters.\n\nA condition nests at most 32 levels deep: parentheses, lists, `not` and unary `-` each count one level. Chains such as `a and b and c`, `x | f | g` or `1 + 2 + 3` count once, however long.";
    UnknownName = "WF403", "unknown-name", Error,
        "a template or expression uses a name that does not exist",
        "Templates start from one of: `params`, `matrix`, `stages`, `jobs`, `item`, `loop`, `branch`, `case`, `retry`.";
    UndeclaredParam = "WF404", "undeclared-param", Error,
        "a reference to a param the workflow does not declare",
        "`params.x` must be declared under the workflow's `params`. ddeutil-workflow fails at run time with `Parameters does not get dot with caller`.";
    UnknownStageRef = "WF405", "unknown-stage-ref", Error,
        "a reference to a stage that is not an earlier stage in scope",
        "`stages.<id>` can only name a stage with that `id` that runs earlier in the same stage list, or in an enclosing list (nested stages see the stages of their parents).";
    UnknownMatrixKey = "WF406", "unknown-matrix-key", Error,
        "a reference to a matrix key that the job does not have",
        "`matrix.<key>` must be a key of the job's `strategy.matrix`.";
    OutOfScope = "WF407", "out-of-scope", Error,
        "a loop or branch variable used outside its stage",
        "`item` and `loop` exist only inside foreach and until stages, `branch` only inside parallel stages, `case` only inside case stages, `retry` only in stages that retry.";
    JobNotUpstream = "WF408", "job-not-upstream", Error,
        "a reference to a job that has not run yet",
        "`jobs.<id>` can only name a job that this job needs, directly or through other jobs; any other job may not have finished (or even started) when this one runs. Add it to `needs`.";
    UnknownFilter = "WF409", "unknown-filter", Error,
        "a template uses a filter that does not exist",
        "Built-in filters: abs, str, int, list, dict, title, upper, lower, rstr, keys, values, fmt, coalesce, getitem, getindex. User filters come from Python modules registered with `@custom_filter`.\n\nA name of one or two characters (`| ab`) is never a filter to ddeutil-workflow: its template pattern wants three or more, so it leaves the whole `${{ ... }}` as literal text. wfc reports it instead.";
    FilterArguments = "WF410", "filter-arguments", Error,
        "a filter called with the wrong arguments",
        "The built-in filters take: fmt(fmt='%Y-%m-%d %H:%M:%S'), coalesce(default), getitem(key, default=None), getindex(index); the others take none.";
    UnknownCall = "WF411", "unknown-call", Error,
        "a Call stage names a function that is not registered",
        "`uses: <path>/<function>@<tag>` names a Python function marked with `@tag(\"<tag>\", alias=\"<function>\")` in the task package `<path>`: a `tasks` package beside the workflow folder, or `<root>.<path>` for each root of WFC_REGISTRY_CALLER / WORKFLOW_CORE_REGISTRY_CALLER. Reported by `wfc check --resolve-calls`, which imports the packages with python3.";
    CallArguments = "WF412", "call-arguments", Error,
        "a Call stage's `with` does not fit its function",
        "Every parameter of the function without a default must be given under `with:` (a parameter `_x` is given as `x`), and, unless the function takes `**kwargs`, every key of `with:` must be one of its parameters. Reported by `wfc check --resolve-calls`.";
    InvalidCron = "WF501", "invalid-cron", Error,
        "a schedule with an invalid cron expression",
        "`cronjob` is a 5-field cron (`minute hour day month weekday`), a 6-field one with a year (1990-2100), or an alias (`@daily`, `@hourly`...). Fields accept `*`, `?`, numbers, ranges `a-b`, steps `/n`, lists `a,b` and month/weekday names.";
    InvalidSchedule = "WF502", "invalid-schedule", Error,
        "a schedule list that ddeutil-workflow would refuse",
        "A workflow's `on.schedule` holds at most 10 entries, no cron twice, all in one timezone, which must be an IANA name (`UTC`, `Asia/Bangkok`).";
    UnknownRunsOn = "WF503", "unknown-runs-on", Error,
        "a `runs-on` type that does not exist",
        "Job `runs-on` types: local, self_hosted, docker, container, aws_batch, gcp_batch.";
    MatrixKey = "WF504", "matrix-key", Error,
        "an include or exclude entry with a key the matrix does not have",
        "`strategy.include` entries may only set keys of the matrix (unlike GitHub Actions, ddeutil-workflow fails the job otherwise), and an `exclude` entry with another key would never match anything.";
    UnsafeVolume = "WF505", "unsafe-volume", Error,
        "a Docker volume that may not be mounted",
        "A Docker stage's `volume` maps host paths to container paths. A host path must lie inside the workflow's working directory: written relative to it (`./data: /data`), without `..` steps that leave it, and it may not be or hold a socket of the container engine (`/var/run`, `/run`, `/`, `docker.sock`). `wfc check` refuses absolute host paths too, and judges a templated host path (`./${{ params.dir }}`) by its text before the first template; at run time the rendered path is checked: an absolute path inside the working directory is accepted, and symlinks that lead outside and folders that hold the engine's socket are refused. Container paths are absolute, and `/logs` is the stage's own (the container writes `/logs/outputs.json` there for outputs).\n\nThe volumes of container jobs follow the same rule: `runs-on: {type: container, with: {volumes: [{source, target}]}}` (`source` is the host path) and `runs-on: {type: docker, with: {volume: {host: container}}}`; there `/.wfc` is wfr's own.";
    UnsupportedRunsOn = "WF506", "unsupported-runs-on", Error,
        "a `runs-on` type that wfc cannot honour",
        "`aws_batch` and `gcp_batch` are ddeutil-workflow's cloud batch providers; wfc does not run jobs on them. A job never runs on this machine instead of where its `runs-on` says: run it on your own machines with `runs-on: {type: self_hosted, with: {host: nats://…}}` and `wfr worker` (README: Running on many machines), or in a container with `runs-on: {type: container, with: {image: …}}`.";
    SecretInWorkflow = "WF507", "secret-in-workflow", Error,
        "a credential written into the workflow",
        "The `token` of `runs-on: self_hosted` is a credential. Written as text it would be kept in the workflow file, in the plan file and in every copy of them. Write it as `${VAR}`: wfr reads the variable from its environment when the job is dispatched, and never logs it nor writes it to a plan or a record.";
    TwoDefaultArms = "WF904", "two-default-arms", Warning,
        "a case stage with both `case: _` and `else:`",
        "`case: _` and `else:` both mean \"anything else\". ddeutil-workflow accepts one of each and runs the one listed last when nothing else matches; wfc does the same, and warns because the other arm never runs.\n\nKeep one of them.";
    TemplateInScript = "WF901", "template-in-script", Warning,
        "a template spliced into a shell script",
        "A `${{ }}` template in a `bash` script is pasted into the script text before the shell reads it, so a value such as `x; rm -rf ~` runs as code. Pass the value through the stage's `env` and quote it in the script:\n\n    bash: echo \"$NAME\"\n    env:\n      NAME: ${{ params.name }}";
    ConstantCondition = "WF902", "constant-condition", Warning,
        "an `if` whose value never changes",
        "The condition refers to nothing that changes between runs, so the stage or job always runs or never runs. Remove the `if` (or the stage).";
    UnusedSuppression = "WF905", "unused-suppression", Warning,
        "a suppression comment that suppresses nothing",
        "`# wfc: ignore[CODE]` hides findings of CODE on its line (or, alone on its line, on the next line that is not a comment); `# wfc: ignore-file[CODE]` hides them in the whole file. This one names a code that has no finding there, so it hides nothing: the finding it was written for is gone, or the comment is on the wrong line. A suppression that lingers would hide the next, unrelated finding of that code.\n\nRemove the code from the comment (or the comment). `wfc check --no-suppress` shows every finding, suppressed or not. (WF904 was taken before suppressions existed, so this is WF905.)";
    InvalidSuppression = "WF906", "invalid-suppression", Warning,
        "a suppression comment wfc cannot read",
        "A suppression is a YAML comment `# wfc: ignore[WF101]` or `# wfc: ignore-file[WF404, template-in-script]`: the codes, by id or name, in brackets and separated by commas. This comment starts like one but names no code, names a code that does not exist, or is not of that form, so it suppresses nothing.\n\n`wfc check --explain` lists the codes.";
    NameMismatch = "WF903", "name-mismatch", Warning,
        "an inner `name` or `id` that is overridden by its key",
        "In the nested form a workflow's name is its key, and a job's id is its key under `jobs`; the inner `name:` / `id:` is replaced by the key when the workflow loads.";
}

impl Code {
    /// Finds a code by id (`WF101`, case-insensitive) or name (`unknown-key`).
    #[must_use]
    pub fn lookup(text: &str) -> Option<Code> {
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.id().eq_ignore_ascii_case(text) || c.name() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_and_names_are_unique() {
        let ids: HashSet<_> = Code::ALL.iter().map(|c| c.id()).collect();
        let names: HashSet<_> = Code::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(ids.len(), Code::ALL.len());
        assert_eq!(names.len(), Code::ALL.len());
    }

    /// The explanations that list the built-in filters list the table's.
    #[test]
    fn filter_explanations_follow_the_table() {
        use wfc_plan::filters::FILTERS;
        let names: Vec<&str> = FILTERS.iter().map(|f| f.name).collect();
        let listed = format!("Built-in filters: {}.", names.join(", "));
        assert!(
            Code::UnknownFilter.explanation().starts_with(&listed),
            "WF409 should start: {listed}"
        );
        let signatures: Vec<String> = FILTERS
            .iter()
            .filter(|f| !f.params.is_empty())
            .map(wfc_plan::filters::FilterDef::signature)
            .collect();
        let takes = format!(
            "The built-in filters take: {}; the others take none.",
            signatures.join(", ")
        );
        assert_eq!(Code::FilterArguments.explanation(), takes);
    }

    #[test]
    fn lookup_by_id_or_name() {
        assert_eq!(Code::lookup("wf101"), Some(Code::UnknownKey));
        assert_eq!(Code::lookup("needs-cycle"), Some(Code::NeedsCycle));
        assert_eq!(Code::lookup("nope"), None);
    }
}
