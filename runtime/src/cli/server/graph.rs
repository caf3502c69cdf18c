//! A workflow's job graph as SVG, laid out in Rust by layout-rs (its layered
//! layout), drawn by our own backend so that each job is a `<g class="job">`
//! with `data-job` and `data-status`: the page's script recolours a job and
//! rewrites its status text as the run's events arrive. Status is said in
//! words under each job's name, never by colour alone.

use std::fmt::Write as _;

use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::format::{ClipHandle, RenderBackend};
use layout::core::geometry::Point;
use layout::core::style::StyleAttr;
use layout::std_shapes::render::get_shape_size;
use layout::std_shapes::shapes::{Arrow, Element, ShapeKind};
use layout::topo::layout::VisualGraph;
use petgraph::visit::EdgeRef as _;
use wfc_plan::Plan;

/// The graph of `plan`'s jobs; `status` gives a job's status now (None: not
/// started).
pub(super) fn svg(plan: &Plan, status: impl Fn(&str) -> Option<String>) -> String {
    if plan.jobs.node_count() == 0 {
        return String::new();
    }
    let mut graph = VisualGraph::new(Orientation::TopToBottom);
    let look = StyleAttr::new(Color::fast("black"), 1, Some(Color::fast("white")), 6, 14);
    let mut handles = Vec::new();
    for (i, index) in plan.jobs.node_indices().enumerate() {
        let job = &plan.jobs[index];
        // Room for the status line under the name.
        let label = format!("{}\n ", job.id);
        let shape = ShapeKind::new_box(&label);
        let size = get_shape_size(Orientation::TopToBottom, &shape, 14, false);
        let size = Point::new(size.x.max(110.0), size.y + 6.0);
        let element = Element::create_with_properties(
            shape,
            look.clone(),
            Orientation::TopToBottom,
            size,
            i.to_string(),
        );
        handles.push(graph.add_node(element));
    }
    for edge in plan.jobs.edge_references() {
        graph.add_edge(
            Arrow::simple(""),
            handles[edge.source().index()],
            handles[edge.target().index()],
        );
    }
    let jobs: Vec<(String, String)> = plan
        .jobs
        .node_indices()
        .map(|index| {
            let id = plan.jobs[index].id.clone();
            let now = status(&id).unwrap_or_else(|| "PENDING".into());
            (id, now)
        })
        .collect();
    let mut writer = Writer {
        jobs,
        body: String::new(),
        open: None,
        width: 0.0,
        height: 0.0,
    };
    graph.do_it(false, false, false, &mut writer);
    writer.finish()
}

/// Escapes text for SVG/HTML (text and attribute values).
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Draws what layout-rs lays out.
struct Writer {
    /// Each job's id and status, by node number.
    jobs: Vec<(String, String)>,
    body: String,
    /// The job whose box was drawn last and whose label comes next.
    open: Option<usize>,
    width: f64,
    height: f64,
}

impl Writer {
    fn grow(&mut self, at: Point, size: Point) {
        self.width = self.width.max(at.x + size.x + 6.0);
        self.height = self.height.max(at.y + size.y + 6.0);
    }

    fn finish(self) -> String {
        format!(
            "<svg class=\"graph\" role=\"img\" aria-label=\"job graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\
             <defs><marker id=\"head\" markerWidth=\"10\" markerHeight=\"7\" refX=\"10\" refY=\"3.5\" orient=\"auto\">\
             <polygon points=\"0 0, 10 3.5, 0 7\"/></marker></defs>{}</svg>",
            self.body,
            w = self.width.ceil(),
            h = self.height.ceil(),
        )
    }
}

impl RenderBackend for Writer {
    fn draw_rect(
        &mut self,
        xy: Point,
        size: Point,
        _look: &StyleAttr,
        properties: Option<String>,
        _clip: Option<ClipHandle>,
    ) {
        self.grow(xy, size);
        let Some(n) = properties.and_then(|p| p.parse::<usize>().ok()) else {
            return;
        };
        let Some((id, status)) = self.jobs.get(n) else {
            return;
        };
        let _ = write!(
            self.body,
            "<g class=\"job\" data-job=\"{}\" data-status=\"{}\"><title>job {}</title>\
             <rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"6\"/>",
            escape(id),
            escape(status),
            escape(id),
            xy.x,
            xy.y,
            size.x,
            size.y
        );
        self.open = Some(n);
    }

    fn draw_line(&mut self, start: Point, stop: Point, _look: &StyleAttr, _p: Option<String>) {
        let _ = write!(
            self.body,
            "<line class=\"edge\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>",
            start.x, start.y, stop.x, stop.y
        );
    }

    fn draw_circle(&mut self, _xy: Point, _size: Point, _look: &StyleAttr, _p: Option<String>) {}

    fn draw_text(&mut self, xy: Point, _text: &str, _look: &StyleAttr) {
        let Some(n) = self.open.take() else {
            return;
        };
        let Some((id, status)) = self.jobs.get(n) else {
            return;
        };
        let _ = write!(
            self.body,
            "<text class=\"job-name\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
             <text class=\"job-status\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text></g>",
            xy.x,
            xy.y - 4.0,
            escape(id),
            xy.x,
            xy.y + 14.0,
            escape(status)
        );
    }

    fn draw_arrow(
        &mut self,
        path: &[(Point, Point)],
        _dashed: bool,
        _head: (bool, bool),
        _look: &StyleAttr,
        _properties: Option<String>,
        _text: &str,
    ) {
        if path.len() < 2 {
            return;
        }
        for (a, b) in path {
            self.grow(*a, Point::zero());
            self.grow(*b, Point::zero());
        }
        let mut d = format!(
            "M {:.1} {:.1} C {:.1} {:.1}, {:.1} {:.1}, {:.1} {:.1}",
            path[0].0.x,
            path[0].0.y,
            path[0].1.x,
            path[0].1.y,
            path[1].0.x,
            path[1].0.y,
            path[1].1.x,
            path[1].1.y
        );
        for (a, b) in path.iter().skip(2) {
            let _ = write!(d, " S {:.1} {:.1}, {:.1} {:.1}", a.x, a.y, b.x, b.y);
        }
        let _ = write!(
            self.body,
            "<path class=\"edge\" d=\"{d}\" marker-end=\"url(#head)\"/>"
        );
    }

    fn create_clip(&mut self, _xy: Point, _size: Point, _rounded_px: usize) -> ClipHandle {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(yaml: &str) -> Plan {
        let dir = tempfile::tempdir().expect("a folder");
        std::fs::write(dir.path().join("w.yml"), yaml).expect("written");
        let plans = dir.path().join("plans");
        let workspace =
            wfc_compiler::api::compile_workspace(Some(dir.path()), &plans).expect("compiles");
        workspace.plans.into_iter().next().expect("a plan")
    }

    #[test]
    fn each_job_is_a_group_with_its_status_in_words() {
        let plan = plan(
            "w:\n  type: Workflow\n  jobs:\n    a:\n      stages:\n        - name: s\n    \
             b<&>:\n      needs: [a]\n      stages:\n        - name: s\n",
        );
        let svg = svg(&plan, |job| (job == "a").then(|| "SUCCESS".to_string()));
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(
            svg.contains("data-job=\"a\" data-status=\"SUCCESS\""),
            "{svg}"
        );
        assert!(svg.contains(">SUCCESS</text>"), "{svg}");
        // A job's id is escaped; one not started says so.
        assert!(
            svg.contains("data-job=\"b&lt;&amp;&gt;\" data-status=\"PENDING\""),
            "{svg}"
        );
        assert_eq!(svg.matches("<path class=\"edge\"").count(), 1, "{svg}");
    }
}
