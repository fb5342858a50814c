"""OpenRosa, the protocol ODK Collect and Enketo speak: an XML instance read and mapped to a
record (``instance``), and the form list, XForms and submissions (``service``)."""
