"""Every number a lesson's text quotes is in that lesson's outputs.

A lesson says what its cells printed ("the ratio falls to 0.711", "62.5% test error"); when
the code or the data changes and the lesson is run again, the outputs change and the text
must follow. This test reads each committed notebook and checks every decimal number,
number in scientific notation (1.5e6, 1.5 × 10^6) and percentage in its markdown cells,
maths included, against the numbers in its outputs, at the precision the text quotes:
"0.711" is found by an output 0.7113 or 0.711, not by 0.71 (which cannot tell 0.711 from
0.714), and a percentage "62.5%" by an output 62.5 or 0.625. Whole numbers are checked
too ("12,288" read as 12288), but for years (1900 to 2099) and for exponents and
subscripts: 10^{-7} is a power of ten, not the number -7.

A quoted number needs no output when it is not a result:
- it is written in the lesson's own code (a setting the lesson chose: lr = 0.05);
- it names a place ("Section 4.1", "Table 2", "eqs. 7 and 8") or is part of a version or
  an address;
- it numbers a section ("## 3. Convolution by im2col");
- it is in the line that estimates a lesson's study time ("**Study time:** about 2 hours");
- it is on the short allow-list below, each entry with the reason it is not a result.
"""

import json
import math
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "lessons").glob("*.ipynb"))

# (lesson, quoted text): why it is not a result the lesson's outputs must show.
NOT_RESULTS = {
    ("01_autograd", "2.30"): "ln 10, the loss of a uniform guess over 10 classes",
    ("01_autograd", "30,730"): "arithmetic: 10 x 3,072 weights and 10 biases",
    ("01_autograd", "50,000"): "the size of CIFAR-10's training set",
    ("03_plain_depth", "56"): "the depth of the paper's plain net (Deep Residual Learning, Fig. 1)",
    ("03_plain_depth", "0.005"): "arithmetic in the text: 0.9^50",
    ("03_plain_depth", "117"): "arithmetic in the text: 1.1^50",
    ("03_plain_depth", "1.5"): "the derivation's factor per layer on the mean square, 3/2, for std^2 = 3/C",
    ("03_plain_depth", "49"): "the span of layers the factor per layer is taken over (1 to D - 1), a choice",
    ("03_plain_depth", "8.6"): "arithmetic on two printed counts: 165,714 / 19,218 parameters",
    ("03_plain_depth", "164"): "the paper's epochs",
    ("04_identity_path", "55"): "arithmetic: the 56 layers less the linear one",
    ("04_identity_path", "110"): "a depth of the paper (Identity Mappings)",
    ("04_identity_path", "1001"): "a depth of the paper (Identity Mappings)",
    ("04_identity_path", "2.303"): "ln 10, the loss of a uniform guess over 10 classes",
    ("06_van", "0.003"): "the alphas' step of an earlier, 6-epoch version of the run, told as history",
    ("06_van", "16"): "a channel count inside the formula (8 + 16 + 32) / 3",
    ("06_van", "26"): "the depth of the VAN paper's training curves (Fig. 2, right)",
    ("06_van", "30"): "the VAN paper's depth past which its plain nets fall behind (Section 4.2)",
    ("06_van", "40"): "the VAN paper's depth up to which VAN matches ResNets (Section 4.2)",
    ("06_van", "120"): "the VAN paper's iteration at which its skips are removed (Section 4.2)",
    ("06_van", "165"): "the VAN paper's epochs on CIFAR (Section 4.2)",
    ("07_plain_start", "144"): "arithmetic in the text: 9 C for C = 16",
    ("07_plain_start", "17"): "arithmetic on two quoted numbers: 0.118 / 0.0069",
    ("07_plain_start", "18"): "arithmetic: the blocks of a 20-layer net, 20 - 2",
    ("07_plain_start", "64"): "a channel count of the Noise Stability paper's nets (16, 32 and 64)",
    ("07_plain_start", "14"): "arithmetic on two quoted numbers: 0.1 / 0.0069",
    ("08_shortcut_scaling", "0.656"): "arithmetic in the text: 0.9^4",
    ("08_shortcut_scaling", "12,288"): "arithmetic: the values of a (4, 3, 32, 32) batch",
    ("08_shortcut_scaling", "158"): "arithmetic: 2 epochs of 79 batches",
    ("08_shortcut_scaling", "2.0 \\times 10^{-3}"): "arithmetic in the text: 0.5^9",
    ("08_shortcut_scaling", "550"): "arithmetic on two quoted numbers: 0.37 / 6.7e-4",
    ("08_shortcut_scaling", "2%"): "arithmetic on quoted numbers: 169 against 172, 3.41e-3 against 3.38e-3",
}

PLACE = re.compile(r"(?:\b(?:Sections?|Sec\.|Tables?|Fig\.|Figure|[Ee]qs?\.|equations?|[Ll]essons?|version)|§)"
                   r"\s*$")
NUMBER = re.compile(
    r"(?<![\w.^{_,\-−])"                            # not inside a word, an address, a version,
                                                    # an exponent or a subscript (0.9^{50}, x_{12})
    r"(?P<text>[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)"     # the mantissa, as written (12,288)
    r"(?:(?P<exponent>e[-+]?\d+)"                   # 1.5e6
    r"|\s*(?:×|\\times|·|\\cdot)\s*10\^\{?(?P<power>[-−]?\d+)\}?"    # 1.5 × 10^{6}
    r"|\s*(?:×|·)\s*10(?P<superscript>[⁻]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)"            # 1.5 × 10⁶
    r")?"
    r"(?P<percent>\s*(?:%|\\%))?"
    r"(?![\w.]*\d)")                                # not followed by more of a version (2.13.0)
SUPERSCRIPTS = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")
OUTPUT_NUMBER = re.compile(r"[-−]?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d*)?(?:[eE][-+]?\d+)?|[-−]?\.\d+")
# A number literal in code: not the 2 of conv2d, and no thousands separator ((4,100) is two numbers).
CODE_NUMBER = re.compile(r"(?<![\w.])-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


class Quoted:
    """A number quoted in the text: its value, how many digits it shows, and its kind."""

    def __init__(self, match):
        self.text = match.group(0).strip()
        mantissa = match.group("text").replace("−", "-").replace(",", "")
        self.decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
        self.percent = bool(match.group("percent"))
        exponent = match.group("exponent")
        power = match.group("power") or match.group("superscript")
        if exponent:
            self.scientific, self.power = True, int(exponent[1:])
        elif power:
            self.scientific, self.power = True, int(power.translate(SUPERSCRIPTS).replace("−", "-"))
        else:
            self.scientific, self.power = False, 0
        self.mantissa = float(mantissa)
        self.value = self.mantissa * 10.0 ** self.power

    def is_shown_by(self, value) -> bool:
        """True if ``value`` (an output) rounds to this number at the digits it shows."""
        if self.scientific:
            if value == 0:
                return False
            shown = f"{value:.{self.decimals}e}"
            quoted = f"{self.value:.{self.decimals}e}"
            return shown == quoted
        candidates = [value, 100.0 * value] if self.percent else [value]
        return any(math.isclose(round(candidate, self.decimals), self.mantissa, abs_tol=1e-12)
                   for candidate in candidates)

    def needs_checking(self) -> bool:
        """Every number but a year (1900 to 2099, written without decimals)."""
        return not (self.decimals == 0 and not self.scientific and not self.percent
                    and 1900 <= abs(self.value) <= 2099)


def _markdown_without_addresses(text) -> str:
    text = re.sub(r"^\*\*Study time:\*\*.*$", "", text, flags=re.MULTILINE)   # an estimate, not a result
    text = re.sub(r"^(#+ )\d+(?:\.\d+)*\.? ", r"\1", text, flags=re.MULTILINE)    # a section's number
    text = re.sub(r"\]\([^)]*\)", "]", text)                      # link targets
    text = re.sub(r"https?://\S+", "", text)
    return text


def quoted_numbers(notebook) -> list:
    """[(cell index, Quoted)] for every number the markdown cells quote."""
    found = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        text = _markdown_without_addresses("".join(cell["source"]))
        for match in NUMBER.finditer(text):
            if PLACE.search(text[:match.start()]):
                continue
            quoted = Quoted(match)
            if quoted.needs_checking():
                found.append((index, quoted))
    return found


def output_numbers(notebook) -> list:
    """Every number printed or shown by the code cells (text, text/plain, text/markdown, text/html)."""
    values = []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        for output in cell.get("outputs", []):
            texts = [output.get("text", "")]
            texts += [value for kind, value in output.get("data", {}).items()
                      if kind in ("text/plain", "text/markdown", "text/html")]
            for text in texts:
                text = "".join(text) if isinstance(text, list) else text
                values += [float(number.replace("−", "-").replace(",", ""))
                           for number in OUTPUT_NUMBER.findall(text)]
    return values


def code_numbers(notebook) -> list:
    """Every number literal written in the code cells (the lesson's settings: 0.05, 5e-4)."""
    code = "\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code")
    return [float(number.replace("−", "-").replace(",", "")) for number in CODE_NUMBER.findall(code)]


@pytest.mark.parametrize("path", LESSONS, ids=lambda path: path.stem)
def test_every_number_the_text_quotes_is_in_the_outputs(path):
    notebook = json.loads(path.read_text())
    outputs = output_numbers(notebook)
    settings = code_numbers(notebook)
    missing = []
    for index, quoted in quoted_numbers(notebook):
        if (path.stem, quoted.text) in NOT_RESULTS:
            continue
        written = [quoted.value, quoted.value / 100] if quoted.percent else [quoted.value]
        if any(math.isclose(setting, value, rel_tol=1e-9) for setting in settings for value in written):
            continue                                   # a setting written in the lesson's code
        if not any(quoted.is_shown_by(value) for value in outputs):
            missing.append(f"cell {index}: {quoted.text}")
    assert not missing, (f"{path.name} quotes numbers that none of its outputs shows at that precision "
                         f"(correct the text, or add a number that is not a result to NOT_RESULTS): "
                         + "; ".join(missing))


def test_the_allow_list_names_numbers_the_lessons_quote():
    """An entry of NOT_RESULTS that no lesson quotes any more is stale."""
    quoted = set()
    for path in LESSONS:
        for _, number in quoted_numbers(json.loads(path.read_text())):
            quoted.add((path.stem, number.text))
    assert set(NOT_RESULTS) <= quoted, f"stale NOT_RESULTS entries: {sorted(set(NOT_RESULTS) - quoted)}"


@pytest.mark.parametrize("text, value, shown", [
    ("0.711", 0.7113, True), ("0.711", 0.71, False), ("0.711", 0.7116, False),
    ("62.5%", 0.625, True), ("62.5%", 62.5, True), ("62.5%", 0.6251, True), ("62.5%", 0.63, False),
    ("1.5e6", 1.281e6, False), ("1.3e6", 1.281e6, True), ("1.5 × 10^{6}", 1.5e6, True),
    ("-0.099", -0.0994, True), ("−0.099", 0.0994, False), ("3.3e-15", 3.31e-15, True),
    ("12,288", 12288.0, True), ("12,288", 12.0, False),
])
def test_a_quoted_number_is_shown_by_an_output_that_rounds_to_it(text, value, shown):
    match = NUMBER.search(text)
    assert match and match.group(0).strip() == text
    assert Quoted(match).is_shown_by(value) == shown


def test_exponents_subscripts_and_years_are_not_quoted_numbers():
    cell = {"cell_type": "markdown", "source": ["a tolerance of $10^{-7}$, $0.9^{50}$, $x_{12}$, He et al. (2016)"]}
    assert [quoted.text for _, quoted in quoted_numbers({"cells": [cell]})] == ["10", "0.9"]


def test_the_settings_are_the_code_literals_not_digits_inside_names():
    cell = {"cell_type": "code", "source": ["net = conv2d(x2, lr=0.05, weight_decay=5e-4, shape=(4,100), bias=-1)"]}
    assert code_numbers({"cells": [cell]}) == [0.05, 5e-4, 4.0, 100.0, -1.0]
