"""Text contrast of every badge and alert variant (WCAG 2.x AA: 4.5:1, 3:1 for
large text), computed in a real browser from the stylesheets the site serves.

The variants are not listed here: they are read from ``document.styleSheets``
(every rule, inside media queries too): each ``.bg-*``, ``.text-bg-*``,
``.badge-*`` class is rendered as a badge, each ``.alert-*`` class as an alert
with text, a heading and an ``.alert-link``. So are the exact class
combinations the templates and scripts write on a badge or an alert (e.g.
``badge bg-warning text-dark``), read from the files, one per branch of a
``{% if %}``. A new variant in a stylesheet or a new combination in a template
is measured the next time the test runs.

Colours come from ``getComputedStyle``: the text colour (its alpha and the
element's opacity composited) against the backgrounds of the element and its
ancestors composited up to the first opaque one (the page is white).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.conftest import LiveServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NORMAL, LARGE = 4.5, 3.0
# Bootstrap's classes for the parts of an alert, not variants of it.
ALERT_PARTS = {"link", "heading"}

# A variant is a class named in a rule that sets a colour (text, background or
# border): modifiers that only tune another class (.bg-opacity-25 sets a custom
# property, .bg-gradient an image over the colour) are not variants on their own.
VARIANTS = r"""() => {
  const found = {bg: new Set(), 'text-bg': new Set(), badge: new Set(), alert: new Set()};
  const colours = ['color', 'background-color', 'border-top-color', 'border-right-color',
                   'border-bottom-color', 'border-left-color'];
  const walk = (rules) => {
    for (const rule of rules) {
      if (rule.cssRules) walk(rule.cssRules);  // @media, @supports, @layer, nesting
      if (!rule.selectorText || !colours.some((p) => rule.style.getPropertyValue(p))) continue;
      for (const m of rule.selectorText.matchAll(/\.(text-bg|bg|badge|alert)-([\w-]+)/g)) {
        found[m[1]].add(m[2]);
      }
    }
  };
  for (const sheet of document.styleSheets) walk(sheet.cssRules);
  return Object.fromEntries(Object.entries(found).map(([k, v]) => [k, [...v].sort()]));
}"""

# Render each sample (HTML) in main and measure its text parts: the sample
# itself (a badge) or, for an alert, its paragraph, heading and link.
MEASURE = r"""(samples) => {
  const rgba = (text) => {
    const n = text.match(/[\d.]+/g).map(Number);
    return n.length === 3 ? [...n, 1] : n;
  };
  const over = (top, bottom) => {  // source-over compositing, straight alpha
    const a = top[3] + bottom[3] * (1 - top[3]);
    if (a === 0) return [0, 0, 0, 0];
    const mix = (i) => (top[i] * top[3] + bottom[i] * bottom[3] * (1 - top[3])) / a;
    return [mix(0), mix(1), mix(2), a];
  };
  const measure = (el, sample) => {
    let background = [255, 255, 255, 0];
    const images = [];
    for (let node = el; node && background[3] < 1; node = node.parentElement) {
      const style = getComputedStyle(node);
      background = over(background, rgba(style.backgroundColor));
      if (style.backgroundImage !== 'none') images.push(node.className);
    }
    background = over(background, [255, 255, 255, 1]);
    const style = getComputedStyle(el);
    let colour = rgba(style.color);
    colour[3] *= Number(style.opacity);
    return {sample, part: el.dataset.part || 'text', colour: over(colour, background),
            background, images, size: parseFloat(style.fontSize),
            weight: Number(style.fontWeight)};
  };
  const box = document.createElement('div');
  document.querySelector('main').append(box);
  const out = [];
  for (const sample of samples) {
    box.innerHTML = sample;
    const root = box.firstElementChild;
    const parts = root.querySelectorAll('[data-part]');
    for (const el of parts.length ? parts : [root]) out.push(measure(el, sample));
  }
  box.remove();
  return out;
}"""

# An element whose class attribute holds "badge" or "alert" (in a template), and
# a script's className (on the element it creates).
CLASS_ATTR = re.compile(r'<(?P<tag>[a-z][a-z0-9]*)\b[^>]*?\sclass="(?P<classes>[^"]*)"')
CLASS_NAME = re.compile(
    r'createElement\("(?P<tag>\w+)"\);\s*\w+\.className\s*=\s*"(?P<classes>[^"]*)"'
)
JINJA_TAG = re.compile(r"{%-?.*?-?%}", re.DOTALL)


def _relative_luminance(rgb: tuple[float, float, float]) -> float:
    def channel(value: float) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    """The WCAG 2.x contrast ratio of two opaque sRGB colours (1 to 21)."""
    la, lb = sorted((_relative_luminance(a), _relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_contrast_formula() -> None:
    assert contrast((0, 0, 0), (255, 255, 255)) == pytest.approx(21)
    assert contrast((255, 255, 255), (255, 255, 255)) == pytest.approx(1)
    # The warning badge of the issue: #17334f on Bootstrap Italia's #995c00.
    assert contrast((23, 51, 79), (153, 92, 0)) == pytest.approx(2.39, abs=0.01)
    assert contrast((255, 255, 255), (0, 102, 204)) == pytest.approx(5.57, abs=0.01)


def _branches(value: str) -> list[str]:
    """The class lists a templated attribute can produce: the text outside the
    ``{% if %}`` with each branch's text (or none of them)."""
    parts = JINJA_TAG.split(value)
    if len(parts) == 1:
        return [value]
    common = f"{parts[0]} {parts[-1]}"
    return [f"{common} {branch}" for branch in parts[1:-1]]


def template_combinations() -> set[tuple[str, str]]:
    """Every (tag, classes) of a badge or an alert in templates/ and static/js/."""
    found: set[tuple[str, str]] = set()
    sources = [(p, CLASS_ATTR) for p in (ROOT / "templates").rglob("*.html")]
    sources += [(p, CLASS_NAME) for p in (ROOT / "static" / "js").glob("*.js")]
    for path, pattern in sources:
        for match in pattern.finditer(path.read_text()):
            for classes in _branches(match["classes"]):
                names = classes.split()
                if "badge" not in names and "alert" not in names:
                    continue
                assert "{{" not in classes, (
                    f"{path.relative_to(ROOT)}: a badge or alert class comes from an "
                    f"expression ({match['classes']!r}): write the classes literally so "
                    "this test can measure them"
                )
                found.add((match["tag"], " ".join(sorted(set(names)))))
    return found


def _badge(classes: str, tag: str = "span") -> str:
    href = ' href="#"' if tag == "a" else ""
    return f'<{tag} class="{classes}"{href}>Numero legale non raggiunto</{tag}>'


def _alert(classes: str, tag: str = "div") -> str:
    """An alert with its parts: a heading (where one may go), text and a link."""
    heading = (
        '<h4 class="alert-heading" data-part="heading">Attenzione</h4>' if tag == "div" else ""
    )
    return (
        f'<{tag} class="{classes}" role="alert">{heading}<span data-part="text">La scadenza '
        'è passata: i contributi sono chiusi.</span> <a href="#" class="alert-link" '
        f'data-part="link">Vedi il calendario</a></{tag}>'
    )


@dataclass(frozen=True)
class Measure:
    sample: str
    part: str
    ratio: float
    needed: float
    colour: tuple[float, ...]
    background: tuple[float, ...]
    images: tuple[str, ...]

    def line(self) -> str:
        fg = "rgb({:.0f}, {:.0f}, {:.0f})".format(*self.colour[:3])
        bg = "rgb({:.0f}, {:.0f}, {:.0f})".format(*self.background[:3])
        return f"{self.ratio:.2f}:1 (needs {self.needed}) {self.part} {fg} on {bg}: {self.sample}"


def _measure(page: Page, samples: list[str]) -> list[Measure]:
    results = []
    for m in page.evaluate(MEASURE, samples):
        large = m["size"] >= 24 or (m["size"] >= 18.66 and m["weight"] >= 700)
        results.append(
            Measure(
                sample=m["sample"], part=m["part"],
                ratio=contrast(tuple(m["colour"][:3]), tuple(m["background"][:3])),
                needed=LARGE if large else NORMAL,
                colour=tuple(m["colour"]), background=tuple(m["background"]),
                images=tuple(m["images"]),
            )
        )  # fmt: skip
    return results


@pytest.fixture(scope="module")
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.goto("/login")
    yield page
    context.close()


def _check(measures: list[Measure]) -> None:
    # Text on a background image cannot be measured. Bootstrap Italia's alerts
    # have one: their icon, drawn in the left padding, never behind the text.
    unmeasurable = [m.line() for m in measures if any("alert" not in c.split() for c in m.images)]
    assert not unmeasurable, "text over a background image:\n" + "\n".join(unmeasurable)
    failing = [m.line() for m in measures if m.ratio < m.needed]
    assert not failing, f"{len(failing)} below WCAG AA:\n" + "\n".join(failing)


def test_every_variant_in_the_stylesheets(page: Page) -> None:
    variants = page.evaluate(VARIANTS)
    # The stylesheets have what this test looks for (a renamed file would empty it).
    assert {"warning", "info", "light"} <= set(variants["bg"]), variants
    assert {"warning", "danger"} <= set(variants["alert"]), variants
    samples = [_badge(f"badge bg-{v}") for v in variants["bg"]]
    samples += [_badge(f"badge text-bg-{v}") for v in variants["text-bg"]]
    samples += [_badge(f"badge badge-{v}") for v in variants["badge"]]
    samples += [_alert(f"alert alert-{v}") for v in variants["alert"] if v not in ALERT_PARTS]
    measures = _measure(page, samples)
    assert len(measures) >= len(samples)
    _check(measures)


def test_every_combination_the_templates_write(page: Page) -> None:
    combinations = template_combinations()
    # The three warning badges of the issue are among them.
    warnings = {classes for _tag, classes in combinations if "bg-warning" in classes.split()}
    assert len(warnings) >= 1 and all("badge" in c.split() for c in warnings), combinations
    samples = [
        _alert(classes, tag) if "alert" in classes.split() else _badge(classes, tag)
        for tag, classes in sorted(combinations)
    ]
    _check(_measure(page, samples))
