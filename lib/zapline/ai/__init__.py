"""AI on QStash: replies to customers, the owner's assistant, and understanding images, voice notes
and documents. Only the job handlers here import ``openai``; nothing on the inbound path does."""
