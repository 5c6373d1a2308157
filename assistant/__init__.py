"""hcpcs-assistant: answers HCPCS Level II coding questions from the official CMS releases."""

__version__ = "0.1.0"
