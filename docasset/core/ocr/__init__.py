"""Stage 2, OCR: engines that turn page images into the word table (``ocr_text``), and text
assembly from words (engines are built by ``docasset.core.extraction.ocr_escalation``)."""
