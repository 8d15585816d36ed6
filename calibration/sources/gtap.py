"""GTAP basedata header-array files (``.har``, GTAP 6.2 format headers), read with harpy3.

Headers used (million US$; ``c`` traded commodity, ``p`` producing sector or ``CGDS``, ``m``
margin commodity, ``r`` exporter, ``s`` importer):

======  ===============================  ==================================================
VXMD    (c, r, s)                        exports at market prices
VXWD    (c, r, s)                        exports at world (fob) prices
VIWS    (c, r, s)                        imports at world (cif) prices
VIMS    (c, r, s)                        imports at market prices (cif + import tariff)
VDFM    (c, p, s), VIFM (c, p, s)        firms' domestic and imported purchases, market prices
VDPM    (c, s), VIPM (c, s)              private households' domestic and imported purchases
VDGM    (c, s), VIGM (c, s)              government's domestic and imported purchases
VFM     (endowment, p, s)                firms' purchases of endowments at market prices
VST     (m, r)                           exports of margin services to international transport
VTWR    (m, c, r, s)                     margins on shipments of c from r to s
======  ===============================  ==================================================

Set labels come from the sets file (headers ``H1`` = REG, ``H2`` = TRAD_COMM, ``H9`` =
CGDS_COMM, ``MARG`` = MARG_COMM, or a 1C header whose long name starts ``Set REG`` and so on)
or, without a sets file, from the set elements stored with each header.

How the data enter the model's accounts (:func:`table_from_headers`):

- bilateral shipments ``flows[r, s, c]`` = VXWD (fob): export taxes (VXWD − VXMD) become part of
  the exporter's sales and hence of its value added;
- import tariffs: ``duties[r, s, c]`` = VIMS − VIWS, the GTAP tariff wedge; the dataset's rate is
  this revenue over the fob shipment, so that the model's benchmark tariff revenue is GTAP's;
- international margins (VTWR, = VIWS − VXWD): the importer buys them as margin services
  (GTAP's margin commodities, e.g. ``otp``, ``wtp``, ``atp``) from the regions that supply
  international transport, in proportion to their VST; each user's purchases of an imported
  good (VIFM, VIPM, VIGM) are split into the good (fob plus tariff) and its margin, which is
  recorded as a purchase of the margin services by the same user;
- domestic sales ``flows[s, s, c]`` = VDFM + VDPM + VDGM summed over all users (intra-regional
  trade of an aggregated region, VXWD(c, s, s), is added to them);
- investment: the purchases of the capital-goods sector (the PROD_COMM elements that are not in
  TRAD_COMM, i.e. ``CGDS``) are final demand, added to households' and government's purchases;
- value added of a sector = its output (sales at the prices above) − its purchases of goods and
  services at market prices (VDFM + VIFM): VFM plus the net taxes on output, on intermediate
  inputs, on factor use and on exports; taxes on households' and government's purchases
  (the agents'-price headers) are not read, since final demand is valued at market prices.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from calibration.sources import SourceError, SourceTable

UNIT = "US$ mn"
CURRENCY = "USD"
FORMAT = "GTAP basedata (GTAP 6.2 headers)"

#: One-line record of how the source enters the dataset, written to ``dataset.toml``.
TREATMENT = (
    "shipments = VXWD (fob) between regions, VDFM + VDPM + VDGM within a region; tariff rate = "
    "(VIMS - VIWS) / VXWD; international margins VTWR bought by the importer as margin "
    "services from the VST regions (users' imported purchases split into good and margin); "
    "value added = output - VDFM - VIFM (VFM plus net taxes on output, inputs, factors and "
    "exports); investment (CGDS purchases) in final demand; final demand at market prices")

#: header -> the sets of its dimensions
HEADERS = {
    "VXMD": ("TRAD_COMM", "REG", "REG"),
    "VXWD": ("TRAD_COMM", "REG", "REG"),
    "VIWS": ("TRAD_COMM", "REG", "REG"),
    "VIMS": ("TRAD_COMM", "REG", "REG"),
    "VDFM": ("TRAD_COMM", "PROD_COMM", "REG"),
    "VIFM": ("TRAD_COMM", "PROD_COMM", "REG"),
    "VDPM": ("TRAD_COMM", "REG"),
    "VIPM": ("TRAD_COMM", "REG"),
    "VDGM": ("TRAD_COMM", "REG"),
    "VIGM": ("TRAD_COMM", "REG"),
    "VFM": ("ENDW_COMM", "PROD_COMM", "REG"),
    "VST": ("MARG_COMM", "REG"),
    "VTWR": ("MARG_COMM", "TRAD_COMM", "REG", "REG"),
}
#: set name -> its header in GTAP's sets file
SET_HEADERS = {"REG": "H1", "TRAD_COMM": "H2", "ENDW_COMM": "H6", "CGDS_COMM": "H9",
               "MARG_COMM": "MARG"}


def read_gtap(path: str | Path, sets: str | Path | None = None) -> SourceTable:
    """Read a GTAP basedata file (and optionally its sets file) into a :class:`SourceTable`."""
    import harpy  # the build extra (package harpy3)

    path = Path(path)
    names = _header_names(path)
    missing = [h for h in HEADERS if h not in names]
    if missing:
        hint = ("; this looks like a file with the GTAP version 7 model's headers (VDFB, "
                "VMFB, ...): aggregate the data base in the GTAP 6.2 (\"v6\") format instead"
                if "VDFB" in names else "")
        raise SourceError(
            f"{path}: GTAP header(s) {', '.join(missing)} missing from the basedata file; the "
            f"build needs {', '.join(HEADERS)}{hint}")
    found = {o["name"].strip(): o for o in harpy.HarFileIO.readHeaderArraysFromFile(
        str(path), [names[h] for h in HEADERS])}
    arrays = {h: np.asarray(found[h]["array"], dtype=float) for h in HEADERS}
    labels = _labels_from_headers(path, found)
    if sets is not None:
        labels = _merge_labels(path, Path(sets), labels, _labels_from_sets_file(Path(sets)))
    for h, dims in HEADERS.items():
        if arrays[h].ndim != len(dims):
            raise SourceError(f"{path}: header {h} has {arrays[h].ndim} dimensions, expected "
                              f"{len(dims)} ({' x '.join(dims)})")
    sizes = _sizes(path, arrays)
    for name in ("REG", "TRAD_COMM", "PROD_COMM", "MARG_COMM"):
        if name not in labels:
            raise SourceError(f"{path}: no element names for set {name}: the headers carry none "
                              "and no sets file was given (--sets)")
        if len(labels[name]) != sizes[name]:
            raise SourceError(f"{path}: set {name} has {len(labels[name])} elements but the "
                              f"headers have {sizes[name]}")
    return table_from_headers(arrays, labels, where=str(path),
                              description=f"GTAP basedata {path.name}")


def _header_names(path: Path) -> dict:
    import harpy

    if not path.is_file():
        raise SourceError(f"{path}: file not found")
    try:
        info = harpy.HarFileIO.readHarFileInfo(str(path))
    except Exception as exc:
        raise SourceError(f"{path}: not a header-array (.har) file ({type(exc).__name__}: "
                          f"{exc})") from None
    return {n.strip(): n for n in info.getHeaderArrayNames()}


def _labels_from_headers(path: Path, found: dict) -> dict:
    """Set elements stored with the headers (GTAP writes them with every real header)."""
    labels: dict = {}
    for h, dims in HEADERS.items():
        sets = found[h].get("sets") or []
        for dim, s in zip(dims, sets):
            if s.get("dim_type") != "Set" or not s.get("dim_desc"):
                continue
            elements = tuple(str(e).strip() for e in s["dim_desc"])
            if dim in labels and labels[dim] != elements:
                raise SourceError(f"{path}: header {h} lists other {dim} elements than the "
                                  "headers before it")
            labels[dim] = elements
    return labels


def _labels_from_sets_file(path: Path) -> dict:
    import harpy

    names = _header_names(path)
    infos = harpy.HarFileIO.readHeaderArraysFromFile(str(path), list(names.values()))
    by_name = {o["name"].strip(): o for o in infos if o.get("data_type") == "1C"}
    labels = {}
    for set_name, header in SET_HEADERS.items():
        obj = by_name.get(header)
        if obj is None:
            obj = next((o for o in by_name.values() if str(o.get("long_name", "")).strip()
                        .upper().startswith(f"SET {set_name}")), None)
        if obj is not None:
            labels[set_name] = tuple(str(e).strip() for e in obj["array"])
    for set_name in ("REG", "TRAD_COMM"):
        if set_name not in labels:
            raise SourceError(f"{path}: sets file has no header {SET_HEADERS[set_name]} "
                              f"(set {set_name})")
    if "PROD_COMM" not in labels:
        labels["PROD_COMM"] = labels["TRAD_COMM"] + labels.get("CGDS_COMM", ("CGDS",))
    return labels


def _merge_labels(path: Path, sets_path: Path, from_headers: dict, from_sets: dict) -> dict:
    merged = dict(from_headers)
    for name, elements in from_sets.items():
        if name in from_headers and from_headers[name] != elements:
            raise SourceError(
                f"{sets_path}: set {name} ({', '.join(elements[:6])}, ...) differs from the "
                f"elements stored in {path.name} ({', '.join(from_headers[name][:6])}, ...)")
        merged[name] = elements
    return merged


def _sizes(path: Path, arrays: dict) -> dict:
    sizes: dict = {}
    for h, dims in HEADERS.items():
        for dim, size in zip(dims, arrays[h].shape):
            if sizes.setdefault(dim, size) != size:
                raise SourceError(f"{path}: header {h} has {size} elements of {dim}, other "
                                  f"headers {sizes[dim]}")
    return sizes


def table_from_headers(a: dict, labels: dict, where: str, description: str = "") -> SourceTable:
    """Fold GTAP's value flows into the model's accounts (module docstring).

    ``a`` maps header names to float arrays in GTAP's dimension order, ``labels`` set names to
    element tuples (REG, TRAD_COMM, PROD_COMM, MARG_COMM).
    """
    regions, trad, prod, marg = (labels[k] for k in ("REG", "TRAD_COMM", "PROD_COMM", "MARG_COMM"))
    missing = [c for c in trad if c not in prod]
    if missing:
        raise SourceError(f"{where}: traded commodities {', '.join(missing)} are not in "
                          "PROD_COMM (the sectors of VDFM)")
    not_traded = [m for m in marg if m not in trad]
    if not_traded:
        raise SourceError(f"{where}: margin commodities {', '.join(not_traded)} are not in "
                          "TRAD_COMM")
    sector_cols = [prod.index(c) for c in trad]
    invest_cols = [k for k, p in enumerate(prod) if p not in trad]
    m_idx = [trad.index(m) for m in marg]

    # users' purchases [s, c, user]: users are the sectors (in TRAD_COMM order) then final demand
    dom = np.concatenate([np.transpose(a["VDFM"][:, sector_cols, :], (2, 0, 1)),
                          (a["VDPM"] + a["VDGM"] + a["VDFM"][:, invest_cols, :].sum(axis=1)).T[:, :, None]],
                         axis=2)
    imp = np.concatenate([np.transpose(a["VIFM"][:, sector_cols, :], (2, 0, 1)),
                          (a["VIPM"] + a["VIGM"] + a["VIFM"][:, invest_cols, :].sum(axis=1)).T[:, :, None]],
                         axis=2)
    vtwr = a["VTWR"]                                          # [m, c, r, s]
    margin_content = vtwr.sum(axis=(0, 2)).T                  # [s, c]
    margin_by_service = np.transpose(vtwr.sum(axis=2), (2, 1, 0))  # [s, c, m]
    imp_total = imp.sum(axis=2)                               # [s, c]
    share = np.divide(imp, imp_total[:, :, None], out=np.zeros_like(imp),
                      where=imp_total[:, :, None] > 0)        # user shares of imports of c
    purchases = dom + imp - share * margin_content[:, :, None]
    added = np.einsum("scu,scm->smu", share, margin_by_service)  # margin services bought
    purchases[:, m_idx, :] += added

    flows = np.transpose(a["VXWD"], (1, 2, 0)).copy()         # [r, s, c]
    idx = np.arange(len(regions))
    flows[idx, idx, :] += dom.sum(axis=2)
    vst = a["VST"]                                            # [m, r]
    supply = vst.sum(axis=1)
    bought = margin_by_service.sum(axis=1)                    # [s, m]
    no_supplier = [marg[k] for k in range(len(marg)) if supply[k] <= 0 < bought[:, k].sum()]
    if no_supplier:
        raise SourceError(f"{where}: margins VTWR on {', '.join(no_supplier)} but no region "
                          "supplies them (VST is zero)")
    supplier_share = np.divide(vst, supply[:, None], out=np.zeros_like(vst),
                               where=supply[:, None] > 0)     # [m, r]
    for k, c in enumerate(m_idx):
        flows[:, :, c] += np.outer(supplier_share[k], bought[:, k])
    duties = np.transpose(a["VIMS"] - a["VIWS"], (1, 2, 0))   # [r, s, c]

    intermediates = purchases[:, :, :-1]                      # [s, c, sector]
    final_demand = purchases[:, :, -1]
    output = flows.sum(axis=1)                                # [r, c]
    value_added = output - intermediates.sum(axis=1)
    vfm = a["VFM"][:, sector_cols, :].sum(axis=0).T           # [r, sector]
    folded = {
        "import tariffs VIMS - VIWS, kept as tariffs": float(duties.sum()),
        "international margins VTWR, bought as margin services from the VST regions":
            float(vtwr.sum()),
        "export taxes VXWD - VXMD, folded into the exporter's value added":
            float((a["VXWD"] - a["VXMD"]).sum()),
        "factor payments VFM": float(vfm.sum()),
        "net taxes on output, inputs, factors and exports, folded into value added":
            float(value_added.sum() - vfm.sum()),
        "investment (purchases of CGDS), summed into final demand":
            float(a["VDFM"][:, invest_cols, :].sum() + a["VIFM"][:, invest_cols, :].sum()),
    }
    return SourceTable(
        regions=tuple(regions), sectors=tuple(trad), flows=flows, duties=duties,
        intermediates=intermediates, final_demand=final_demand, value_added=value_added,
        folded=folded, unit=UNIT, currency=CURRENCY, year=None, description=description)
