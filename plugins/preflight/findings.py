"""The preflight's result: errors (exit non-zero), warnings, notes and memory estimates."""

from __future__ import annotations

from dataclasses import dataclass, field

from plugins.preflight.memory import Estimate


@dataclass
class PreflightReport:
    """Everything the preflight found; ``ok`` is False when any error was found."""

    recipe: str
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    estimates: list[Estimate] = field(default_factory=list)
    gpu_mem_gb: float | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    def estimate(self, name: str) -> Estimate | None:
        return next((e for e in self.estimates if e.name == name), None)

    def render(self) -> str:
        """A short plain-text table: memory by component, then findings."""
        lines = [f"preflight: {self.recipe}"]
        if self.estimates:
            parts = list(dict.fromkeys(p for e in self.estimates for p in e.parts))
            card = f"{self.gpu_mem_gb:g} GiB card" if self.gpu_mem_gb else "card size not given"
            header = ["GiB"] + [e.name for e in self.estimates]
            rows = [[p] + [f"{e.parts.get(p, 0.0):.2f}" for e in self.estimates] for p in parts]
            rows.append(["peak"] + [f"{e.total:.2f}" for e in self.estimates])
            widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
            fmt = "  ".join(f"{{:<{widths[0]}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
            lines += [f"memory estimate ({card}):", fmt.format(*header)]
            lines += [fmt.format(*r) for r in rows]
        lines += [f"ERROR    {m}" for m in self.errors]
        lines += [f"warning  {m}" for m in self.warnings]
        lines += [f"note     {m}" for m in self.notes]
        lines.append(
            f"result: {'FAIL' if self.errors else 'ok'} ({len(self.errors)} errors, {len(self.warnings)} warnings)"
        )
        return "\n".join(lines)
