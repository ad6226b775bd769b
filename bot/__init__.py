"""Chinese tele-sales assistant: CRM, playbook and NLU parts around Rasa."""
