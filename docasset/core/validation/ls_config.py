"""The Label Studio labelling config docasset's review tasks use, and its tunables.

Sized for a laptop screen: the page image takes what the side panel leaves (its height fits
the window, so a receipt is read without zooming); the side panel (fixed width, scrolling on
its own) holds, from the top: a refusal of the operator's last annotation (on a pink band;
nothing when none), why the document is queued, the fields to check, "not on this document"
and the page verdict. Per field the operator draws (or keeps the pre-annotated) box,
labelled with the field's label, and types the value as printed into the box's text area
(``TextArea perRegion``; the region list shows every box with its value and confidence).

A field routing accepted is not asked: its box is drawn in grey with the label
``<LABEL> (accepted)`` of a separate control (hidden from the label buttons, so nothing is
drawn with it by accident) and is read-only, so a click cannot move, relabel or retype it. To
correct it the operator draws a box with the field's own label: that box is the value.

Control names (what annotation results are parsed by, ``docasset.core.validation.ls_tasks``):
``page`` (Image), ``field`` (RectangleLabels), ``accepted_field`` (RectangleLabels of the
accepted boxes), ``value`` (TextArea), ``status`` (hidden per-region Choices: annotations
made with earlier configs carry it, and Label Studio refuses a config their results no longer
fit),
``verdict`` (Choices: irrelevant, bad_scan), ``absent`` (Choices, one per field). The hidden
``thumbnail`` Image makes the data manager show the first page as a thumbnail.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from docasset.core.extraction.fields import DocType
from docasset.core.tunable import tunable

IMAGE, FIELD, ACCEPTED_FIELD, VALUE, STATUS, VERDICT, ABSENT, THUMBNAIL = (
    "page",
    "field",
    "accepted_field",
    "value",
    "status",
    "verdict",
    "absent",
    "thumbnail",
)
ACCEPTED = "accepted"
SIDE_PANEL = (
    "flex: 0 0 340px; position: sticky; top: 0; max-height: calc(100vh - 110px); overflow-y: auto"
)
ACCEPTED_SUFFIX = " (accepted)"
ACCEPTED_COLOUR = "#9E9E9E"  # grey: shown, not asked
VERDICT_HINTS = {
    "irrelevant": "Not a document of this type: nothing on it is learned",
    "bad_scan": "Only when nobody can read the page (a readable page with a quality warning is "
    "annotated as usual): nothing on it is learned",
}
# Box colours, in field order (colour-blind-safe Okabe-Ito palette).
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


@dataclass(frozen=True)
class LabelStudioConfig:
    """How review tasks are laid out in Label Studio and how push and pull page through it."""

    annotations_per_task: int = tunable(
        1,
        "Annotations a task needs before Label Studio stops showing it to operators (the "
        "project's maximum_annotations; 2 or more for double annotation).",
        ge=1,
    )
    box_padding: int = tunable(
        4,
        "Pixels added around a value's OCR word boxes so its pre-annotated box never clips it.",
        ge=0,
    )
    page_size: int = tunable(
        100, "Tasks per request when listing a Label Studio project.", ge=1, le=1000
    )


def accepted_label(label: str) -> str:
    """The label of an accepted field's box (``accepted_field`` control)."""
    return label + ACCEPTED_SUFFIX


def labelling_config(doctype: DocType) -> str:
    """The labelling config XML for a document type (see the module docstring)."""
    colours = [quoteattr(COLOURS[i % len(COLOURS)]) for i in range(len(doctype.fields))]
    labels = "\n".join(
        f"      <Label value={quoteattr(f.label)} background={c}/>"
        for f, c in zip(doctype.fields, colours, strict=True)
    )
    accepted = "\n".join(
        f"      <Label value={quoteattr(accepted_label(f.label))} background="
        f"{quoteattr(ACCEPTED_COLOUR)}/>"
        for f in doctype.fields
    )
    absent = "\n".join(f"      <Choice value={quoteattr(f.label)}/>" for f in doctype.fields)
    verdicts = "\n".join(
        f"      <Choice value={quoteattr(v)} hint={quoteattr(h)}/>"
        for v, h in VERDICT_HINTS.items()
    )
    return f"""<View style="display: flex; align-items: flex-start; gap: 12px">
  <View style="flex: 1 1 auto; min-width: 0">
    <Image name="{IMAGE}" valueList="$pages" zoom="true" zoomControl="true" rotateControl="false"
           maxHeight="calc(100vh - 150px)" horizontalAlignment="center"/>
  </View>
  <View style="{SIDE_PANEL}">
    <Header value="$rejection" size="5" style="margin: 0; color: #B00020; background: #FDECEA"/>
    <Header value="$review_note" size="5" style="font-size: 13px; margin: 4px 0"/>
    <Header value="Fields to check: box the value, type it as printed" size="5"/>
    <RectangleLabels name="{FIELD}" toName="{IMAGE}" strokeWidth="2" showInline="true">
{labels}
    </RectangleLabels>
    <View style="display: none">
      <RectangleLabels name="{ACCEPTED_FIELD}" toName="{IMAGE}" strokeWidth="1" opacity="0.3">
{accepted}
      </RectangleLabels>
      <Choices name="{STATUS}" toName="{IMAGE}" perRegion="true" choice="single">
        <Choice value="{ACCEPTED}"/>
      </Choices>
    </View>
    <TextArea name="{VALUE}" toName="{IMAGE}" perRegion="true" editable="true" maxSubmissions="1"
              rows="2" placeholder="the value exactly as printed" displayMode="region-list"/>
    <Header value="Not on this document" size="5"/>
    <Choices name="{ABSENT}" toName="{IMAGE}" choice="multiple" showInline="true">
{absent}
    </Choices>
    <Header value="Page verdict (leave empty for a normal page)" size="5"/>
    <Choices name="{VERDICT}" toName="{IMAGE}" choice="single" showInline="true">
{verdicts}
    </Choices>
  </View>
  <View style="display: none">
    <Image name="{THUMBNAIL}" value="$thumbnail"/>
  </View>
</View>
"""
