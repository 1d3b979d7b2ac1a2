DROP INDEX connections_attention;
