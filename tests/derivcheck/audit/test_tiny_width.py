"""audit-kernel on a kernel of tiny width (exp(-r**2/s**2), s = 1e-10): the phi check probes at distances
small against the kernel's width (it probed at r = 1e-8, 100 widths out, read phi = 0 there as
'cancellation near coincidence': a false warning), and the float32 check says why float32 cannot run
the kernel (it printed 'inf' for every separation)."""

from __future__ import annotations

from derivcheck.audit import audit


def test_phi_is_probed_within_the_kernels_width():
    a = audit("exp(-r**2/s**2)", {"s": 1e-10}, engines=False)
    c = a.check("phi")
    assert c.verdict == "pass", c.detail
    key = next(k for k in c.evidence if k.startswith("relative distance at"))
    assert float(key.rsplit(" ", 1)[1]) < 1e-10 and c.evidence[key] < 1e-6
    # a kernel of width 1 is still probed at 1e-8
    assert "relative distance at 1e-8" in audit("gaussian", engines=False).check("phi").evidence


def test_float32_says_why_it_cannot_run_the_kernel():
    c = audit("exp(-r**2/s**2)", {"s": 1e-10}, examples=1).check("float32")
    assert c.verdict == "fail" and c.detail.startswith("float32 cannot run this kernel: kernel parameter s = 1e-10")
    assert "inf" not in c.detail
