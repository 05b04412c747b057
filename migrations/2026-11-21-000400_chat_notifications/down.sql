DROP TABLE device_tokens;
DROP TABLE notification_preferences;
DROP TABLE notifications;
DROP TABLE chat_messages;
