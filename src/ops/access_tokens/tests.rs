use super::*;

#[test]
fn the_cooldown_doubles_from_thirty_seconds_up_to_fifteen_minutes() {
    assert_eq!((1..=8).map(cooldown).collect::<Vec<_>>(), [30, 60, 120, 240, 480, 900, 900, 900]);
}

#[test]
fn a_token_shorter_lived_than_the_margin_is_refreshed_at_half_its_life() {
    assert_eq!(effective_margin(60, Some(1004), Some(1000)), 2);
    assert_eq!(effective_margin(60, Some(1100), Some(1000)), 50);
    assert_eq!(effective_margin(60, Some(4600), Some(1000)), 60);
    assert_eq!(effective_margin(60, None, Some(1000)), 60, "no expiry: nothing to refresh before");
    assert_eq!(effective_margin(60, Some(1000), None), 60);
    assert_eq!(
        effective_margin(60, Some(900), Some(1000)),
        60,
        "an expiry before the token was obtained is ignored"
    );
}
