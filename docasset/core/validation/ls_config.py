"""The Label Studio labelling config docasset's review tasks use, and its tunables.

One page image on the left; on the right (sticky, so nothing needs scrolling) why the document
is queued, the page verdict, the field labels and the per-field "not on this document"
choices. Per field the operator draws (or keeps the pre-annotated) box, labelled with the
field's label from the document type, and types the value as printed into the box's text
area (``TextArea perRegion``; the region list shows every box with its value). A box of a field
field-level routing accepted carries the per-region choice ``accepted``: shown, not asked;
unticking it (or changing the value) makes it a checked value again.

Control names (what annotation results are parsed by, ``docasset.core.validation.ls_tasks``):
``page`` (Image), ``field`` (RectangleLabels), ``value`` (TextArea), ``status`` (per-region
Choices), ``verdict`` (Choices: irrelevant, bad_scan), ``absent`` (Choices, one per field).
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from docasset.core.extraction.fields import DocType
from docasset.core.tunable import tunable

IMAGE, FIELD, VALUE, STATUS, VERDICT, ABSENT = (
    "page",
    "field",
    "value",
    "status",
    "verdict",
    "absent",
)
ACCEPTED = "accepted"
VERDICT_HINTS = {
    "irrelevant": "Not a document of this type: nothing on it is learned",
    "bad_scan": "The scan is unreadable: nothing on it is learned",
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
    )
    box_padding: int = tunable(
        4, "Pixels added around a value's OCR word boxes so its pre-annotated box never clips it."
    )
    page_size: int = tunable(100, "Tasks per request when listing a Label Studio project.")


def labelling_config(doctype: DocType) -> str:
    """The labelling config XML for a document type (see the module docstring)."""
    colours = [quoteattr(COLOURS[i % len(COLOURS)]) for i in range(len(doctype.fields))]
    labels = "\n".join(
        f"      <Label value={quoteattr(f.label)} background={c}/>"
        for f, c in zip(doctype.fields, colours, strict=True)
    )
    absent = "\n".join(f"      <Choice value={quoteattr(f.label)}/>" for f in doctype.fields)
    verdicts = "\n".join(
        f"      <Choice value={quoteattr(v)} hint={quoteattr(h)}/>"
        for v, h in VERDICT_HINTS.items()
    )
    return f"""<View style="display: flex; align-items: flex-start; gap: 16px">
  <View style="flex: 3; min-width: 0">
    <Image name="{IMAGE}" valueList="$pages" zoom="true" zoomControl="true" rotateControl="false"/>
  </View>
  <View style="flex: 2; min-width: 280px; position: sticky; top: 0">
    <Header value="$review_note" size="6"/>
    <Header value="Page verdict (leave empty for a normal page)" size="5"/>
    <Choices name="{VERDICT}" toName="{IMAGE}" choice="single" showInline="true">
{verdicts}
    </Choices>
    <Header value="Fields: box the value on the page, type it as printed" size="5"/>
    <RectangleLabels name="{FIELD}" toName="{IMAGE}" strokeWidth="2" showInline="true">
{labels}
    </RectangleLabels>
    <TextArea name="{VALUE}" toName="{IMAGE}" perRegion="true" editable="true" maxSubmissions="1"
              rows="2" placeholder="the value exactly as printed" displayMode="region-list"/>
    <Choices name="{STATUS}" toName="{IMAGE}" perRegion="true" choice="single" showInline="true">
      <Choice value="{ACCEPTED}" hint="Accepted by the model, not asked: untick to correct it"/>
    </Choices>
    <Header value="Not on this document" size="5"/>
    <Choices name="{ABSENT}" toName="{IMAGE}" choice="multiple" showInline="true">
{absent}
    </Choices>
  </View>
</View>
"""
