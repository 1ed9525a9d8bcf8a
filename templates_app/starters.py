"""The shipped starter templates and the categories they live in.

Plain data plus one loader that takes the model classes as arguments, so the data migration (with its
historical models) and the ``load_starter_templates`` command (with the real ones) share it. Loading is
idempotent: rows are matched by slug, created when missing and brought up to date otherwise.
"""

from __future__ import annotations

from typing import Any

CATEGORIES: list[dict[str, Any]] = [
    {"slug": "vision", "name": "Vision", "order": 10, "description": "Describe, compare and classify images."},
    {
        "slug": "extraction",
        "name": "Extraction",
        "order": 20,
        "description": "Turn receipts, invoices, forms and notes into structured data.",
    },
    {"slug": "documents", "name": "Documents", "order": 30, "description": "Summarise and question PDFs."},
    {"slug": "audio", "name": "Audio", "order": 40, "description": "Transcribe and summarise recordings."},
    {"slug": "design", "name": "Design review", "order": 50, "description": "Critique screenshots and mock-ups."},
    {"slug": "other", "name": "Other", "order": 90, "description": "Everything else."},
]


def _text(text: str) -> dict[str, str]:
    return {"type": "text", "text": text}


def _system(text: str) -> dict[str, Any]:
    return {"role": "system", "content": [_text(text)]}


STARTERS: list[dict[str, Any]] = [
    {
        "slug": "image-captioning",
        "name": "Image captioning",
        "category": "vision",
        "description": "A one-line caption and longer alt text for a photo, in the tone and length you choose.",
        "tags": ["image", "caption", "accessibility"],
        "content": {
            "messages": [
                _system(
                    "You write captions for images. Describe only what is visible: people, objects, setting, "
                    "action, text in the image and the overall mood. Never guess names, ages, ethnicity or "
                    "other personal attributes. If something is unclear, say so rather than inventing it."
                ),
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "variable": "photo", "detail": "auto"},
                        _text(
                            "Write a caption for this image for {{ audience }}.\n"
                            "Style: {{ style }}.\n\n"
                            "Reply in exactly two parts:\n"
                            "Caption: one sentence of at most {{ max_words }} words.\n"
                            "Alt text: two to four sentences a screen-reader user would find useful, "
                            "including any legible text in the image."
                        ),
                    ],
                },
            ],
            "variables": [
                {"name": "photo", "type": "image", "description": "The image to caption."},
                {
                    "name": "audience",
                    "type": "text",
                    "default": "a general audience",
                    "description": "Who will read the caption.",
                },
                {
                    "name": "style",
                    "type": "text",
                    "default": "plain and factual",
                    "description": "Tone of voice, e.g. playful, formal, journalistic.",
                },
                {"name": "max_words", "type": "number", "default": 20, "description": "Longest allowed caption."},
            ],
            "model": {"temperature": 0.4, "max_tokens": 300},
        },
    },
    {
        "slug": "receipt-to-json",
        "name": "Receipt or invoice to JSON",
        "category": "extraction",
        "description": "Reads a photographed receipt or a scanned invoice and returns its fields as JSON.",
        "tags": ["image", "json", "finance", "ocr"],
        "content": {
            "messages": [
                _system(
                    "You extract data from receipts and invoices. Answer with one JSON object and nothing "
                    "else. Copy values exactly as printed; use null for anything missing or illegible. "
                    "Amounts are numbers with a dot as decimal separator, dates are ISO 8601 (YYYY-MM-DD)."
                ),
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "variable": "receipt", "detail": "high"},
                        _text(
                            "Extract this document into JSON with these keys:\n"
                            '- "document_type": "receipt" or "invoice"\n'
                            '- "merchant": {"name", "address", "tax_id"}\n'
                            '- "invoice_number", "date", "due_date"\n'
                            '- "currency": ISO 4217 code; if none is printed assume {{ currency }}\n'
                            '- "line_items": list of {"description", "quantity", "unit_price", "total"}\n'
                            '- "subtotal", "tax", "tip", "total"\n'
                            '- "payment_method"\n'
                            '- "warnings": list of short notes, e.g. when the line items do not add up to the total'
                        ),
                    ],
                },
            ],
            "variables": [
                {"name": "receipt", "type": "image", "description": "Photo or scan of the receipt or invoice."},
                {
                    "name": "currency",
                    "type": "text",
                    "default": "USD",
                    "description": "Currency to assume when the document shows none.",
                },
            ],
            "model": {"temperature": 0, "max_tokens": 1200, "response_format": "json_object"},
        },
    },
    {
        "slug": "chart-question-answering",
        "name": "Chart question answering",
        "category": "vision",
        "description": "Answers a question about a chart, quoting the values it reads and how sure it is.",
        "tags": ["image", "chart", "data"],
        "content": {
            "messages": [
                _system(
                    "You are a careful data analyst reading charts. First identify the chart type, the axes, "
                    "units and legend. Read values off the chart as precisely as the gridlines allow and say "
                    "when a value is estimated. Do not use knowledge that is not in the chart."
                ),
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "variable": "chart", "detail": "high"},
                        _text(
                            "Question: {{ question }}\n\n"
                            "Answer in this format:\n"
                            "Answer: the direct answer in one sentence.\n"
                            "Values used: the numbers you read from the chart, with units.\n"
                            "Confidence: high, medium or low, and why."
                        ),
                    ],
                },
            ],
            "variables": [
                {"name": "chart", "type": "image", "description": "A bar, line, pie or scatter chart."},
                {
                    "name": "question",
                    "type": "text",
                    "default": "Which category has the highest value, and by how much does it lead the next one?",
                    "description": "What you want to know from the chart.",
                },
            ],
            "model": {"temperature": 0.1, "max_tokens": 500},
        },
    },
    {
        "slug": "ui-screenshot-review",
        "name": "UI screenshot review",
        "category": "design",
        "description": "A prioritised design and accessibility review of an app or web page screenshot.",
        "tags": ["image", "ux", "accessibility", "review"],
        "content": {
            "messages": [
                _system(
                    "You are a senior product designer reviewing user interfaces. Be specific: point at the "
                    "element (by its label, position or colour) and say what to change and why. Prefer a few "
                    "high-impact findings over a long list of nitpicks."
                ),
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "variable": "screenshot", "detail": "high"},
                        _text(
                            "This is a screenshot of a {{ platform }} screen. Its purpose: {{ purpose }}.\n"
                            "Review it with a focus on {{ focus }}.\n\n"
                            "Return a Markdown table with columns Severity (high/medium/low), Element, Problem, "
                            "Suggestion — at most {{ max_findings }} rows, most severe first — followed by one "
                            "sentence on what already works well."
                        ),
                    ],
                },
            ],
            "variables": [
                {"name": "screenshot", "type": "image", "description": "Screenshot of the screen to review."},
                {"name": "platform", "type": "text", "default": "web", "description": "web, iOS, Android, desktop…"},
                {
                    "name": "purpose",
                    "type": "text",
                    "default": "let a user complete the main task on this screen",
                    "description": "What the screen is for.",
                },
                {
                    "name": "focus",
                    "type": "text",
                    "default": "visual hierarchy, readability, contrast and accessibility",
                    "description": "What the review should concentrate on.",
                },
                {"name": "max_findings", "type": "number", "default": 8, "description": "Most rows in the table."},
            ],
            "model": {"temperature": 0.3, "max_tokens": 1200},
        },
    },
    {
        "slug": "pdf-summary",
        "name": "PDF summary",
        "category": "documents",
        "description": "An executive summary of a PDF with key points, figures and open questions.",
        "tags": ["pdf", "summary"],
        "content": {
            "messages": [
                _system(
                    "You summarise documents faithfully. Only state what the document says; when you "
                    "interpret, say so. Keep numbers, dates and names exactly as written and cite the page "
                    "(p. N) for every key point when pages are visible."
                ),
                {
                    "role": "user",
                    "content": [
                        {"type": "document", "variable": "document"},
                        _text(
                            "Summarise this document for {{ audience }} in about {{ length }} words.\n\n"
                            "Structure:\n"
                            "1. One-paragraph summary.\n"
                            "2. Key points (bullets, with page references).\n"
                            "3. Important figures and dates.\n"
                            "4. Open questions or risks the reader should follow up on."
                        ),
                    ],
                },
            ],
            "variables": [
                {"name": "document", "type": "document", "description": "The PDF to summarise."},
                {
                    "name": "audience",
                    "type": "text",
                    "default": "a busy executive",
                    "description": "Who will read the summary.",
                },
                {"name": "length", "type": "number", "default": 250, "description": "Approximate length in words."},
            ],
            "model": {"temperature": 0.2, "max_tokens": 1000},
        },
    },
    {
        "slug": "pdf-question-answering",
        "name": "Ask a PDF",
        "category": "documents",
        "description": "Answers a question from a PDF with quotes and page references, or says it is not there.",
        "tags": ["pdf", "qa", "citations"],
        "content": {
            "messages": [
                _system(
                    "You answer questions using only the attached document. Support every claim with a "
                    "short verbatim quote and its page number. If the document does not contain the answer, "
                    "reply exactly: The document does not say."
                ),
                {
                    "role": "user",
                    "content": [
                        {"type": "document", "variable": "document"},
                        _text("Question: {{ question }}"),
                    ],
                },
            ],
            "variables": [
                {"name": "document", "type": "document", "description": "The PDF to search."},
                {
                    "name": "question",
                    "type": "text",
                    "default": "What are the termination conditions and notice periods?",
                    "description": "The question to answer from the document.",
                },
            ],
            "model": {"temperature": 0, "max_tokens": 700},
        },
    },
    {
        "slug": "audio-transcript-summary",
        "name": "Audio transcript summary",
        "category": "audio",
        "description": "Transcribes a recording and summarises decisions, action items and open questions.",
        "tags": ["audio", "meeting", "summary", "transcript"],
        "content": {
            "messages": [
                _system(
                    "You listen to recordings and write accurate meeting notes. Distinguish speakers when you "
                    "can (Speaker 1, Speaker 2, or names if they introduce themselves). Mark inaudible "
                    "passages as [inaudible] instead of guessing."
                ),
                {
                    "role": "user",
                    "content": [
                        {"type": "audio", "variable": "recording"},
                        _text(
                            "This is a recording of a {{ meeting_type }}. Write the notes in {{ language }}.\n\n"
                            "## Summary\nThree to five sentences.\n"
                            "## Decisions\nBullets.\n"
                            "## Action items\nBullets as 'owner — task — due date (if said)'.\n"
                            "## Open questions\nBullets.\n"
                            "## Transcript\nA cleaned-up transcript with speaker labels and timestamps (mm:ss)."
                        ),
                    ],
                },
            ],
            "variables": [
                {"name": "recording", "type": "audio", "description": "WAV or MP3 recording."},
                {
                    "name": "meeting_type",
                    "type": "text",
                    "default": "team meeting",
                    "description": "Customer call, interview, stand-up, lecture…",
                },
                {"name": "language", "type": "text", "default": "English", "description": "Language of the notes."},
            ],
            "model": {"temperature": 0.2, "max_tokens": 2000},
        },
    },
    {
        "slug": "compare-two-images",
        "name": "Compare two images",
        "category": "vision",
        "description": "Lists the differences between two images — versions of a design, before/after photos.",
        "tags": ["image", "diff", "qa"],
        "content": {
            "messages": [
                _system(
                    "You compare images precisely, like a visual regression reviewer. Refer to the first "
                    "image as A and the second as B. Report only differences you can actually see, with "
                    "their location in the frame."
                ),
                {
                    "role": "user",
                    "content": [
                        _text("Image A:"),
                        {"type": "image", "variable": "image_a", "detail": "high"},
                        _text("Image B:"),
                        {"type": "image", "variable": "image_b", "detail": "high"},
                        _text(
                            "Compare A and B, paying most attention to {{ aspect }}.\n"
                            "1. Verdict: identical, minor differences or major differences.\n"
                            "2. A numbered list of differences: where, what A shows, what B shows.\n"
                            "3. Anything that is the same but likely to be mistaken for a difference."
                        ),
                    ],
                },
            ],
            "variables": [
                {"name": "image_a", "type": "image", "description": "The first (reference) image."},
                {"name": "image_b", "type": "image", "description": "The second image."},
                {
                    "name": "aspect",
                    "type": "text",
                    "default": "layout, text, colours and missing or added elements",
                    "description": "What kind of differences matter most.",
                },
            ],
            "model": {"temperature": 0, "max_tokens": 800},
        },
    },
    {
        "slug": "visual-classification",
        "name": "Visual classification",
        "category": "vision",
        "description": "Puts an image into one of your labels and returns the label, confidence and reason as JSON.",
        "tags": ["image", "classification", "json"],
        "content": {
            "messages": [
                _system(
                    "You are an image classifier. Choose exactly one label from the list you are given; if "
                    "none fits, choose the fallback label. Answer with JSON only."
                ),
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "variable": "photo", "detail": "low"},
                        _text(
                            "Labels: {{ labels }}\n"
                            "Fallback label: {{ fallback }}\n\n"
                            'Reply as {"label": "<one of the labels>", "confidence": <0 to 1>, '
                            '"reason": "<one short sentence about what in the image decided it>"}'
                        ),
                    ],
                },
            ],
            "variables": [
                {"name": "photo", "type": "image", "description": "The image to classify."},
                {
                    "name": "labels",
                    "type": "text",
                    "default": "damaged package, intact package, wrong item, empty box",
                    "description": "Comma-separated list of allowed labels.",
                },
                {"name": "fallback", "type": "text", "default": "other", "description": "Label when none fits."},
            ],
            "model": {"temperature": 0, "max_tokens": 150, "response_format": "json_object"},
        },
    },
    {
        "slug": "handwritten-notes-to-markdown",
        "name": "Handwritten notes to Markdown",
        "category": "extraction",
        "description": "Transcribes a photo of handwritten notes or a whiteboard into tidy Markdown.",
        "tags": ["image", "ocr", "handwriting", "markdown"],
        "content": {
            "messages": [
                _system(
                    "You transcribe handwriting. Keep the author's wording; fix only obvious spelling slips. "
                    "Write [?] after any word you are unsure of and [illegible] for words you cannot read."
                ),
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "variable": "notes", "detail": "high"},
                        _text(
                            "Transcribe these notes into Markdown. Keep the structure: headings for titles, "
                            "bullets for lists, tables for grids, and describe diagrams in one line in "
                            "italics. Context: {{ context }}."
                        ),
                    ],
                },
            ],
            "variables": [
                {"name": "notes", "type": "image", "description": "Photo of the page or whiteboard."},
                {
                    "name": "context",
                    "type": "text",
                    "default": "notes from a project meeting",
                    "description": "What the notes are about (helps with jargon).",
                },
            ],
            "model": {"temperature": 0, "max_tokens": 1500},
        },
    },
]


def load_starters(category_model: Any, template_model: Any) -> tuple[int, int]:
    """Create or refresh the starter categories and templates; returns (created, updated) templates.

    Takes the model classes so a data migration can pass its historical models.
    """
    categories = {}
    for data in CATEGORIES:
        category, _ = category_model.objects.update_or_create(
            slug=data["slug"],
            defaults={"name": data["name"], "order": data["order"], "description": data["description"]},
        )
        categories[data["slug"]] = category
    created = updated = 0
    for data in STARTERS:
        fields = {
            "name": data["name"],
            "description": data["description"],
            "category": categories[data["category"]],
            "content": data["content"],
            "tags": data["tags"],
            "is_starter": True,
        }
        existing = template_model.objects.filter(workspace__isnull=True, slug=data["slug"]).first()
        if existing is None:
            template_model.objects.create(workspace=None, slug=data["slug"], **fields)
            created += 1
            continue
        changed = [name for name, value in fields.items() if getattr(existing, name) != value]
        if changed:
            for name in changed:
                setattr(existing, name, fields[name])
            existing.save()
            updated += 1
    return created, updated
