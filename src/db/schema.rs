// @generated automatically by Diesel CLI.

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    auth_sessions (id) {
        id -> Uuid,
        user_id -> Uuid,
        created_at -> Timestamptz,
        ended_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    booking_decline_reasons (id) {
        id -> Uuid,
        booking_id -> Uuid,
        runner_id -> Uuid,
        reason -> Text,
        declined_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    booking_discounts (booking_id) {
        booking_id -> Uuid,
        discount_cents -> Int8,
        reason -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    booking_dispatch (booking_id) {
        booking_id -> Uuid,
        node -> Text,
        lease_until -> Timestamptz,
        next_at -> Nullable<Timestamptz>,
        passes -> Int4,
        started_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    booking_photos (id) {
        id -> Uuid,
        booking_id -> Uuid,
        runner_id -> Uuid,
        photo_type -> Text,
        photo_url -> Text,
        caption -> Text,
        taken_at -> Timestamptz,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    booking_status_history (id) {
        id -> Uuid,
        booking_id -> Uuid,
        from_status -> Nullable<Text>,
        to_status -> Text,
        actor_id -> Nullable<Uuid>,
        reason -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    bookings (id) {
        id -> Uuid,
        #[max_length = 20]
        booking_number -> Varchar,
        owner_id -> Uuid,
        runner_id -> Nullable<Uuid>,
        status -> Text,
        pet_spec -> Jsonb,
        crate_requirement -> Jsonb,
        pickup_address -> Jsonb,
        dropoff_address -> Jsonb,
        route_spec -> Nullable<Jsonb>,
        pet_type -> Text,
        pet_weight_kg -> Float8,
        min_crate_rank -> Int4,
        needs_temp_control -> Bool,
        pickup_lat -> Float8,
        pickup_lng -> Float8,
        pickup_location -> Nullable<Geography>,
        estimated_price_cents -> Int8,
        final_price_cents -> Nullable<Int8>,
        currency -> Text,
        scheduled_at -> Nullable<Timestamptz>,
        picked_up_at -> Nullable<Timestamptz>,
        delivered_at -> Nullable<Timestamptz>,
        cancelled_at -> Nullable<Timestamptz>,
        #[max_length = 500]
        cancel_note -> Varchar,
        #[max_length = 1000]
        notes -> Varchar,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        reminded_at -> Nullable<Timestamptz>,
        schedule_missed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    cash_outs (id) {
        id -> Uuid,
        runner_id -> Uuid,
        destination_id -> Uuid,
        amount_cents -> Int8,
        fee_cents -> Int8,
        currency -> Text,
        status -> Text,
        rail -> Text,
        rail_reference -> Text,
        failure_reason -> Text,
        attempts -> Int4,
        last_error -> Text,
        next_attempt_at -> Nullable<Timestamptz>,
        lease_until -> Nullable<Timestamptz>,
        dead_lettered_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        completed_at -> Nullable<Timestamptz>,
        failed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    chat_messages (id) {
        id -> Uuid,
        booking_id -> Uuid,
        sender_id -> Uuid,
        sender_role -> Text,
        message_type -> Text,
        content -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    device_tokens (id) {
        id -> Uuid,
        user_id -> Uuid,
        token -> Text,
        platform -> Text,
        scope_type -> Text,
        scope_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    ledger_accounts (code) {
        code -> Text,
        kind -> Text,
        holder_id -> Nullable<Uuid>,
        currency -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    ledger_entries (id) {
        id -> Int8,
        transaction_id -> Uuid,
        account -> Text,
        amount_cents -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    ledger_transactions (id) {
        id -> Uuid,
        kind -> Text,
        payment_id -> Nullable<Uuid>,
        booking_id -> Nullable<Uuid>,
        cash_out_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    notification_preferences (id) {
        id -> Uuid,
        user_id -> Uuid,
        enable_push -> Bool,
        enable_sms -> Bool,
        enable_email -> Bool,
        fcm_token -> Nullable<Text>,
        phone_number -> Nullable<Text>,
        email -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    notifications (id) {
        id -> Uuid,
        user_id -> Uuid,
        booking_id -> Nullable<Uuid>,
        event_type -> Text,
        title -> Text,
        body -> Text,
        channels -> Array<Nullable<Text>>,
        channels_sent -> Array<Nullable<Text>>,
        channels_failed -> Array<Nullable<Text>>,
        retry_count -> Int4,
        max_retries -> Int4,
        status -> Text,
        claimed_until -> Nullable<Timestamptz>,
        read_at -> Nullable<Timestamptz>,
        metadata -> Jsonb,
        fcm_sent_at -> Nullable<Timestamptz>,
        sms_sent_at -> Nullable<Timestamptz>,
        email_sent_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    outbox (id) {
        id -> Int8,
        event_id -> Uuid,
        aggregate_type -> Text,
        aggregate_id -> Uuid,
        event_type -> Text,
        payload -> Jsonb,
        created_at -> Timestamptz,
        published_at -> Nullable<Timestamptz>,
        seq -> Int8,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    password_reset_tokens (id) {
        id -> Uuid,
        user_id -> Uuid,
        token_hash -> Text,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    payment_dead_letters (id) {
        id -> Int8,
        payment_id -> Uuid,
        step -> Text,
        reason -> Text,
        attempts -> Int4,
        last_error -> Text,
        created_at -> Timestamptz,
        retried_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    payment_jobs (id) {
        id -> Int8,
        payment_id -> Uuid,
        step -> Text,
        reason -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        last_error -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    payments (id) {
        id -> Uuid,
        booking_id -> Uuid,
        #[max_length = 20]
        booking_number -> Varchar,
        owner_id -> Uuid,
        runner_id -> Nullable<Uuid>,
        attempt -> Int4,
        escrow_status -> Text,
        amount_cents -> Int8,
        platform_fee_cents -> Int8,
        runner_payout_cents -> Int8,
        currency -> Text,
        customer_email -> Text,
        provider -> Text,
        payment_method -> Text,
        stripe_payment_id -> Text,
        failure_reason -> Text,
        refund_reason -> Text,
        escrow_held_at -> Nullable<Timestamptz>,
        captured_at -> Nullable<Timestamptz>,
        escrow_released_at -> Nullable<Timestamptz>,
        refunded_at -> Nullable<Timestamptz>,
        failed_at -> Nullable<Timestamptz>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        discount_cents -> Int8,
        credit_cents -> Int8,
        promo_code -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    payout_destinations (id) {
        id -> Uuid,
        runner_id -> Uuid,
        bank_name -> Text,
        account_holder -> Text,
        account_masked -> Text,
        rail_account -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    pet_shops (id) {
        id -> Uuid,
        owner_id -> Nullable<Uuid>,
        name -> Text,
        address -> Text,
        latitude -> Float8,
        longitude -> Float8,
        location -> Nullable<Geography>,
        phone -> Text,
        email -> Text,
        category -> Text,
        services -> Array<Nullable<Text>>,
        rating -> Float8,
        image_url -> Text,
        opening_hours -> Text,
        description -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    pets (id) {
        id -> Uuid,
        owner_id -> Uuid,
        name -> Text,
        pet_type -> Text,
        breed -> Text,
        weight_kg -> Float8,
        age_months -> Int4,
        allergies -> Text,
        special_needs -> Text,
        notes -> Text,
        photo_url -> Text,
        vaccination_status -> Text,
        status -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    promo_uses (id) {
        id -> Uuid,
        promo_id -> Uuid,
        user_id -> Uuid,
        payment_id -> Uuid,
        discount_cents -> Int8,
        released_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    promos (id) {
        id -> Uuid,
        code -> Text,
        discount_type -> Text,
        discount_value -> Int8,
        min_amount_cents -> Int8,
        max_discount_cents -> Int8,
        max_uses -> Int4,
        current_uses -> Int4,
        valid_from -> Timestamptz,
        valid_until -> Timestamptz,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    referral_codes (user_id) {
        user_id -> Uuid,
        code -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    referrals (id) {
        id -> Uuid,
        referrer_id -> Uuid,
        referee_id -> Uuid,
        reward_amount_cents -> Int8,
        referrer_credited -> Bool,
        referee_credited -> Bool,
        booking_id -> Nullable<Uuid>,
        credited_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    refresh_tokens (id) {
        id -> Uuid,
        user_id -> Uuid,
        family_id -> Uuid,
        token_hash -> Text,
        expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        replaced_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    reviews (id) {
        id -> Uuid,
        booking_id -> Uuid,
        runner_id -> Uuid,
        owner_id -> Uuid,
        rating -> Int2,
        comment -> Text,
        tags -> Array<Nullable<Text>>,
        reply -> Nullable<Text>,
        replied_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    runner_application_counters (year) {
        year -> Int4,
        last_number -> Int4,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    runner_applications (id) {
        id -> Uuid,
        application_number -> Text,
        name -> Text,
        phone -> Text,
        email -> Nullable<Text>,
        ic_number -> Text,
        vehicle_type -> Text,
        plate_number -> Text,
        pet_experience -> Array<Nullable<Text>>,
        comfortable_with_live_pets -> Bool,
        consent_acknowledged -> Bool,
        status -> Text,
        reject_reason -> Text,
        reviewed_by -> Nullable<Uuid>,
        reviewed_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    runner_crates (id) {
        id -> Uuid,
        runner_id -> Uuid,
        size -> Text,
        size_rank -> Int4,
        pet_types -> Array<Nullable<Text>>,
        max_weight_kg -> Float8,
        width_cm -> Float8,
        height_cm -> Float8,
        depth_cm -> Float8,
        ventilated -> Bool,
        temperature_controlled -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    runners (id) {
        id -> Uuid,
        user_id -> Uuid,
        full_name -> Text,
        phone -> Text,
        vehicle_type -> Text,
        vehicle_plate -> Text,
        vehicle_model -> Text,
        vehicle_year -> Nullable<Int4>,
        air_conditioned -> Bool,
        session_status -> Text,
        latitude -> Nullable<Float8>,
        longitude -> Nullable<Float8>,
        location -> Nullable<Geography>,
        location_updated_at -> Nullable<Timestamptz>,
        rating -> Float8,
        total_trips -> Int4,
        completion_rate -> Float8,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        total_reviews -> Int4,
        abandoned_trips -> Int4,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    stripe_events (id) {
        id -> Text,
        event_type -> Text,
        received_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    subscriptions (id) {
        id -> Uuid,
        user_id -> Uuid,
        plan -> Text,
        price_cents -> Int8,
        discount_percent -> Int4,
        started_at -> Timestamptz,
        expires_at -> Timestamptz,
        status -> Text,
        auto_renew -> Bool,
        payment_reference -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    tracking_shares (id) {
        id -> Uuid,
        booking_id -> Uuid,
        token -> Text,
        expires_at -> Timestamptz,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    trip_tracks (id) {
        id -> Uuid,
        booking_id -> Uuid,
        runner_id -> Uuid,
        status -> Text,
        total_distance_km -> Float8,
        started_at -> Timestamptz,
        completed_at -> Nullable<Timestamptz>,
        version -> Int4,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    trip_waypoints (id) {
        id -> Uuid,
        track_id -> Uuid,
        latitude -> Float8,
        longitude -> Float8,
        speed_kmh -> Float8,
        heading_degrees -> Float8,
        recorded_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    users (id) {
        id -> Uuid,
        email -> Text,
        phone -> Text,
        password_hash -> Text,
        full_name -> Text,
        role -> Text,
        is_verified -> Bool,
        avatar_url -> Text,
        is_banned -> Bool,
        token_version -> Int4,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(auth_sessions -> users (user_id));
diesel::joinable!(booking_decline_reasons -> bookings (booking_id));
diesel::joinable!(booking_decline_reasons -> users (runner_id));
diesel::joinable!(booking_discounts -> bookings (booking_id));
diesel::joinable!(booking_dispatch -> bookings (booking_id));
diesel::joinable!(booking_photos -> bookings (booking_id));
diesel::joinable!(booking_photos -> users (runner_id));
diesel::joinable!(booking_status_history -> bookings (booking_id));
diesel::joinable!(cash_outs -> payout_destinations (destination_id));
diesel::joinable!(cash_outs -> users (runner_id));
diesel::joinable!(chat_messages -> bookings (booking_id));
diesel::joinable!(chat_messages -> users (sender_id));
diesel::joinable!(device_tokens -> users (user_id));
diesel::joinable!(ledger_accounts -> users (holder_id));
diesel::joinable!(ledger_entries -> ledger_accounts (account));
diesel::joinable!(ledger_entries -> ledger_transactions (transaction_id));
diesel::joinable!(ledger_transactions -> bookings (booking_id));
diesel::joinable!(ledger_transactions -> payments (payment_id));
diesel::joinable!(notification_preferences -> users (user_id));
diesel::joinable!(notifications -> bookings (booking_id));
diesel::joinable!(notifications -> users (user_id));
diesel::joinable!(password_reset_tokens -> users (user_id));
diesel::joinable!(payment_dead_letters -> payments (payment_id));
diesel::joinable!(payment_jobs -> payments (payment_id));
diesel::joinable!(payments -> bookings (booking_id));
diesel::joinable!(payout_destinations -> users (runner_id));
diesel::joinable!(pet_shops -> users (owner_id));
diesel::joinable!(pets -> users (owner_id));
diesel::joinable!(promo_uses -> payments (payment_id));
diesel::joinable!(promo_uses -> promos (promo_id));
diesel::joinable!(promo_uses -> users (user_id));
diesel::joinable!(promos -> users (created_by));
diesel::joinable!(referral_codes -> users (user_id));
diesel::joinable!(referrals -> bookings (booking_id));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(reviews -> bookings (booking_id));
diesel::joinable!(runner_applications -> users (reviewed_by));
diesel::joinable!(runner_crates -> runners (runner_id));
diesel::joinable!(runners -> users (user_id));
diesel::joinable!(subscriptions -> users (user_id));
diesel::joinable!(tracking_shares -> bookings (booking_id));
diesel::joinable!(trip_tracks -> bookings (booking_id));
diesel::joinable!(trip_tracks -> users (runner_id));
diesel::joinable!(trip_waypoints -> trip_tracks (track_id));

diesel::allow_tables_to_appear_in_same_query!(
    auth_sessions,
    booking_decline_reasons,
    booking_discounts,
    booking_dispatch,
    booking_photos,
    booking_status_history,
    bookings,
    cash_outs,
    chat_messages,
    device_tokens,
    ledger_accounts,
    ledger_entries,
    ledger_transactions,
    notification_preferences,
    notifications,
    outbox,
    password_reset_tokens,
    payment_dead_letters,
    payment_jobs,
    payments,
    payout_destinations,
    pet_shops,
    pets,
    promo_uses,
    promos,
    referral_codes,
    referrals,
    refresh_tokens,
    reviews,
    runner_application_counters,
    runner_applications,
    runner_crates,
    runners,
    stripe_events,
    subscriptions,
    tracking_shares,
    trip_tracks,
    trip_waypoints,
    users,
);
